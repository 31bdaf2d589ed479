import { z } from "zod";

/**
 * Alertmanager's label matchers (`job="etcd"`, `severity!="info"`, `instance=~"127\.0\.0\.1:.*"`,
 * `env!~"dev|test"`), the syntax of its routes' `matchers:` and of `amtool`, so a matcher
 * copied from an Alertmanager configuration means the same here. As there: a regex is
 * anchored at both ends, a label the alert lacks has the value "", and an unquoted value is
 * taken as written. What is not reused: Alertmanager's RE2 engine. JavaScript's engine
 * backtracks, so lookaround and backreferences (which RE2 rejects) are refused here too, and
 * values longer than MAX_MATCHED_VALUE are never matched by a regex (alert labels come from
 * whoever can push alerts; a pathological value must not stall a reconcile).
 */
export type MatchOp = "=" | "!=" | "=~" | "!~";

export interface LabelMatcher {
  name: string;
  op: MatchOp;
  value: string;
}

/** Longer label values never match a regex matcher (`=~` is then false and `!~` true). */
export const MAX_MATCHED_VALUE = 4_096;

/**
 * What the CRDs can check of a matcher (as a `pattern`, so valid in RE2 too): a label name
 * and an operator. The value, and a regex value's syntax, are checked by parseMatcher.
 */
export const MATCHER_PREFIX_RE = /^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)/;

const MATCHER_RE = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$/;
/** Constructs RE2 does not have: lookahead, lookbehind, named-group backreferences, numbered backreferences. */
const NOT_RE2 = /\(\?[=!<]|\\k<|\\[1-9]/;

/** Parses one matcher; a string says what is wrong. */
export function parseMatcher(text: string): LabelMatcher | string {
  const match = MATCHER_RE.exec(text);
  if (!match) return 'expected a matcher like job="etcd", severity!="info" or instance=~"127.0.0.1:.*"';
  const [, name = "", op = "=", raw = ""] = match;
  const value = unquote(raw);
  if (value === undefined) return `the value ${raw} has an unterminated or malformed quoted string`;
  const regexProblem = op === "=~" || op === "!~" ? checkRegex(value) : undefined;
  return regexProblem ?? { name, op: op as MatchOp, value };
}

function checkRegex(value: string): string | undefined {
  if (NOT_RE2.test(value))
    return `the regex ${JSON.stringify(value)} uses lookaround or a backreference (RE2 has neither)`;
  try {
    anchored(value);
    return undefined;
  } catch (err) {
    return `the regex ${JSON.stringify(value)} does not compile: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** A double-quoted value with Go's escapes (`\"`, `\\`, `\n`), or an unquoted one as written. */
function unquote(raw: string): string | undefined {
  if (!raw.startsWith('"')) return raw.includes('"') ? undefined : raw;
  if (raw.length < 2 || !raw.endsWith('"')) return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === "string" ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `labels` satisfy `matcher`; `regex` is the matcher's compiled value, when the caller keeps one. */
export function matchesLabel(matcher: LabelMatcher, labels: Readonly<Record<string, string>>, regex?: RegExp): boolean {
  const value = Object.hasOwn(labels, matcher.name) ? (labels[matcher.name] ?? "") : "";
  switch (matcher.op) {
    case "=":
      return value === matcher.value;
    case "!=":
      return value !== matcher.value;
    case "=~":
      return regexMatches(value, matcher, regex);
    case "!~":
      return !regexMatches(value, matcher, regex);
  }
}

/** A value over MAX_MATCHED_VALUE never matches. */
function regexMatches(value: string, matcher: LabelMatcher, regex: RegExp | undefined): boolean {
  return value.length <= MAX_MATCHED_VALUE && (regex ?? anchored(matcher.value)).test(value);
}

function anchored(value: string): RegExp {
  return new RegExp(`^(?:${value})$`, "u");
}

/** A compiled list of matchers: all must hold (Alertmanager's AND). */
export class Matchers {
  private readonly compiled: { matcher: LabelMatcher; regex?: RegExp }[];

  constructor(matchers: readonly LabelMatcher[]) {
    this.compiled = matchers.map((matcher) => ({
      matcher,
      regex: matcher.op === "=~" || matcher.op === "!~" ? anchored(matcher.value) : undefined,
    }));
  }

  /** Parses matcher texts that the schema has already validated; an invalid one throws. */
  static parse(texts: readonly string[]): Matchers {
    return new Matchers(
      texts.map((text) => {
        const parsed = parseMatcher(text);
        if (typeof parsed === "string") throw new Error(`invalid matcher ${JSON.stringify(text)}: ${parsed}`);
        return parsed;
      }),
    );
  }

  matches(labels: Readonly<Record<string, string>>): boolean {
    return this.compiled.every(({ matcher, regex }) => matchesLabel(matcher, labels, regex));
  }
}

export const MatcherText = z
  .string()
  .superRefine((value, ctx) => {
    const parsed = parseMatcher(value);
    if (typeof parsed === "string") ctx.addIssue({ code: "custom", message: parsed });
  })
  .describe(
    'An Alertmanager label matcher: name, then =, !=, =~ or !~, then a value, quoted or not (job="etcd", instance=~"127.0.0.1:.*"); regexes are anchored.',
  );
