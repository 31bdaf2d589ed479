import { foldForMatching, foldText, originalRange, unescapedView, type FoldedText, type FoldOptions } from "./fold.js";
import { stripControl } from "./strip.js";

/**
 * The project's one redactor. A container's logs, a label, an error from Docker or the API
 * server, a manifest: anything Steward passes on (to the model, the audit trail, a status,
 * a log line, a notification) may hold a secret, so it goes through redactSecrets first.
 *
 * Matching runs on the folded view of the text (fold.ts: NFKC, combining marks removed,
 * look-alike letters made ASCII), so `ｐａｓｓｗｏｒｄ=x` and `pаssword=x` (Cyrillic а) are
 * pairs like `password=x`; what is replaced is the original text's range.
 */

/** Replaces each redacted secret. */
export const REDACTED = "[REDACTED]";

/** Below this length a known value is removed only as it is written: its encodings would match too much else. */
const MIN_ENCODED_LENGTH = 6;
/** Known values shorter than this are not redacted at all (`1`, `on`, `/`). */
const MIN_KNOWN_LENGTH = 4;

const SECRET_WORDS = String.raw`(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?|(?<![a-z])pass)`;
/** A flag or option name that says its value is a secret: `--password`, `-db-token`, `--client_secret`. */
const SECRET_FLAG = new RegExp(String.raw`^--?[a-z0-9_.-]*${SECRET_WORDS}[a-z0-9_.-]*$`, "i");
/** …unless it names where the secret is, not the secret: `--password-file`, `--token-path`. */
const SECRET_LOCATION = /[-_.](?:file|path|dir|env|length|ttl)$/i;

/** A pattern and which part of each of its matches is the secret (undefined: this match is not one). */
interface SecretShape {
  pattern: RegExp;
  secret(match: RegExpExecArray): [number, number] | undefined;
}

const whole = (pattern: RegExp, accept: (value: string) => boolean = () => true): SecretShape => ({
  pattern,
  secret: (m) => (accept(m[0]) ? [m.index, m.index + m[0].length] : undefined),
});
/** Group 1 is kept (the key, `Bearer `), the rest of the match is the secret. */
const afterKey = (pattern: RegExp, accept: (value: string) => boolean = () => true): SecretShape => ({
  pattern,
  secret: (m) => {
    const from = m.index + (m[1] ?? "").length;
    return accept(m[0].slice(from - m.index)) ? [from, m.index + m[0].length] : undefined;
  },
});
/** As afterKey, with surrounding quotes kept: `"password": "[REDACTED]"`. */
const quotedAfterKey = (pattern: RegExp): SecretShape => ({
  pattern,
  secret: (m) => {
    let from = m.index + (m[1] ?? "").length;
    let to = m.index + m[0].length;
    const first = m[0][from - m.index];
    if ((first === '"' || first === "'") && to - from >= 2) [from, to] = [from + 1, to - 1];
    return [from, to];
  },
});

const BASE64_RUN = /[A-Za-z0-9+/_-]/;

/**
 * `prefixes` base64-encoded (`c2stYW50LQ…` is `sk-ant-`) at any of the three byte
 * alignments: the match grows to the whole encoded run around it, over line breaks (base64
 * is often wrapped) and through its `=` padding. Grown by hand, not by the pattern: a
 * leading `[…]*` would backtrack over every long run of base64 that holds no key.
 */
function encodedPrefix(prefixes: readonly string[]): SecretShape {
  const cores = prefixes.flatMap((p) => base64Cores(p)).map((c) => c.replace(/[+/]/g, "\\$&"));
  return {
    pattern: new RegExp(cores.join("|"), "g"),
    secret: (m) => encodedRun(m.input, m.index, m.index + m[0].length),
  };
}

/** The base64 run around `[from, to)`: back to its start, on to its end over line breaks, with its padding. */
function encodedRun(text: string, from: number, to: number): [number, number] {
  const inRun = (ch: string | undefined, lines: boolean): boolean =>
    ch !== undefined && (BASE64_RUN.test(ch) || (lines && (ch === "\n" || ch === "\r")));
  let start = from;
  while (inRun(text[start - 1], false)) start--;
  let end = to;
  while (inRun(text[end], true)) end++;
  while (text[end] === "=") end++;
  while (end > start && (text[end - 1] === "\n" || text[end - 1] === "\r")) end--;
  return [start, end];
}

const hasLetter = (value: string): boolean => /[A-Za-z]/.test(value);
const mixedCase = (value: string): boolean => /[a-z]/.test(value) && /[A-Z]/.test(value) && /[0-9]/.test(value);

const SHAPES: readonly SecretShape[] = [
  // PEM private keys, whole block; an unterminated block is redacted to the end.
  whole(/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*-----|$)/g),
  // No word boundary: the prefix is distinctive, and a key glued to a word is still a key.
  // A key wrapped over lines goes on over each following line made only of key characters.
  whole(/sk-ant-[A-Za-z0-9_-]+(?:\r?\n[A-Za-z0-9_-]+(?=\r?\n|$))*/g),
  whole(/\bsk-[A-Za-z0-9_-]{16,}/g),
  whole(/\bgh[pousr]_[A-Za-z0-9]{20,}/g),
  whole(/\bgithub_pat_[A-Za-z0-9_]{20,}/g),
  whole(/\bxox[abprs]-[A-Za-z0-9-]{10,}/g),
  whole(/\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g),
  whole(/\bAIza[0-9A-Za-z_-]{35}/g),
  // A JWT with or without `Bearer`: header and payload are base64url JSON (`eyJ` is `{"`).
  whole(/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g),
  // A bare AWS secret access key: 40 characters of base64 with upper, lower case and digits.
  whole(/(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g, mixedCase),
  // Those keys base64-encoded (`c2stYW50LQ…`), at any alignment, with the whole encoded run.
  encodedPrefix(["sk-ant-", "github_pat_", "-----BEGIN ", "PRIVATE KEY-----"]),
  // `Authorization: Bearer x`, `Authorization: Basic x`, `"authorization": "x"`.
  afterKey(/\b(authorization["']?\s*[:=]\s*["']?(?:(?:bearer|basic|digest|token)\s+)?)[^\s"',;]+/gi),
  afterKey(/\b(bearer\s+)[A-Za-z0-9._~+/=-]+/gi),
  // `scheme://user:password@host` keeps the user.
  afterKey(/\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:)[^\s/]+(?=@)/gi),
  // `password=x`, `DB_PASSWORD: "x y"`, `"api_key": 'x'`, `client_secret=x`, `pass=x`,
  // `credentials: x`: the key (with any `_suffix`) is kept and the value redacted, quoted or
  // not. `tokens: 12` is not a pair: the key must end at a separator, not run into a longer word.
  quotedAfterKey(
    new RegExp(
      String.raw`(${SECRET_WORDS}(?:[_-][A-Za-z0-9]+)*["']?\s*[:=]\s*)(?:"[^"\n]*"|'[^'\n]*'|[^\s"',;&}]+)`,
      "gi",
    ),
  ),
  // `--password x`, `-token x` (a command line, `ps` output), and `"--password", "x"` (a JSON argv).
  quotedAfterKey(
    new RegExp(
      String.raw`((?<![^\s"'[,])--?[a-z0-9_.-]*${SECRET_WORDS}(?![a-z0-9_.-]*[-_.](?:file|path|dir)\b)[a-z0-9_.-]*(?:[ \t]+|"\s*,\s*))(?!-)(?:"[^"\n]*"|'[^'\n]*'|[^\s"',;]+)`,
      "gi",
    ),
  ),
  // `PASSWORD x`, `DB_TOKEN x`: an upper-case key word, then the value (env dumps, `set`).
  afterKey(
    /\b([A-Z0-9_]*(?:PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?|_PASS)[ \t]+)[^\s"',;]+/g,
  ),
  // `mysql -pX`: the password glued to -p. A port mapping (`-p8080:80`) is no password.
  afterKey(
    /(?<![^\s"'])(-p)[^\s"',;]{4,}/g,
    (value) => hasLetter(value) && !/^[\d.:]+\/(?:tcp|udp|sctp)$/i.test(value),
  ),
];

/** The characters of base64(prefix bytes + secret) that depend on the secret alone, at byte alignments 0, 1 and 2. */
function base64Cores(secret: string): string[] {
  const bytes = Buffer.from(secret, "utf8");
  const padded = Buffer.alloc(bytes.length + 2);
  return [0, 1, 2].map((pad) => {
    bytes.copy(padded, pad);
    const encoded = padded.subarray(0, pad + bytes.length).toString("base64");
    const first = Math.ceil((8 * pad) / 6);
    const last = Math.floor((8 * (pad + bytes.length) - 6) / 6);
    return encoded.slice(first, last + 1);
  });
}

/**
 * The forms a known value takes in output: as written; JSON-escaped; without its control
 * characters (text that went through stripControl). From MIN_ENCODED_LENGTH on also
 * reversed, hex, URL-encoded (with `+` for spaces, and every byte escaped), `\u` and `\x`
 * escaped, and base64 at all three alignments (standard and URL-safe alphabets). Case and
 * line breaks are folded when matching, so upper-cased and line-wrapped forms are covered.
 */
export function secretForms(secret: string): string[] {
  const plain = [secret, stripControl(secret)].filter((s) => s.length >= MIN_KNOWN_LENGTH);
  const forms = plain.flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]);
  for (const s of plain.filter((p) => p.length >= MIN_ENCODED_LENGTH)) {
    const utf8 = Buffer.from(s, "utf8");
    const bytes = [...utf8];
    const cores = base64Cores(s).filter((c) => c.length >= MIN_ENCODED_LENGTH);
    forms.push(
      [...s].reverse().join(""),
      utf8.toString("hex"),
      encodeURIComponent(s),
      encodeURIComponent(s).replace(/%20/g, "+"),
      bytes.map((b) => `%${b.toString(16).padStart(2, "0")}`).join(""),
      bytes.map((b) => `\\x${b.toString(16).padStart(2, "0")}`).join(""),
      [...s]
        .map((c) =>
          (c.codePointAt(0) ?? 0) > 0xffff ? c : `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`,
        )
        .join(""),
      ...cores,
      ...cores.map((c) => c.replace(/\+/g, "-").replace(/\//g, "_")),
    );
  }
  return forms;
}

/** From this length a known value that looks generated is removed in pieces too (secretFragments). */
const MIN_FRAGMENTED_LENGTH = 12;
const LETTER_AND_DIGIT = /^(?=.*[A-Za-z])(?=.*[0-9])/;

/**
 * The MIN_ENCODED_LENGTH-character pieces, each with a letter and a digit, of a known value
 * that looks generated (at least MIN_FRAGMENTED_LENGTH characters, letters and digits, no
 * space, `:` or leading `/`): a program may print its secret in parts with other text
 * between them (two `printf`s in a command line), and a reader can put the parts together.
 * A piece without both may be a word or a number (`opaque` in `opaque3f9a…`), and a value
 * that reads as words, a path or a version (`production`, PATH, `en_US.UTF-8`) is removed
 * only whole: those are everyday text.
 */
function secretFragments(secret: string): string[] {
  const generated =
    secret.length >= MIN_FRAGMENTED_LENGTH && LETTER_AND_DIGIT.test(secret) && !/[\s:]|^[/.]/.test(secret);
  if (!generated) return [];
  const pieces: string[] = [];
  for (let at = 0; at + MIN_ENCODED_LENGTH <= secret.length; at++)
    pieces.push(secret.slice(at, at + MIN_ENCODED_LENGTH));
  return pieces.filter((piece) => LETTER_AND_DIGIT.test(piece));
}

/** The values of an argv's secret flags: `--password x`, `--token=x`, `-pX`. */
export function secretArguments(argv: readonly string[]): string[] {
  const values: string[] = [];
  argv.forEach((arg, i) => {
    const eq = arg.indexOf("=");
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const next = argv[i + 1];
    if (SECRET_FLAG.test(flag) && !SECRET_LOCATION.test(flag)) {
      if (eq >= 0) values.push(arg.slice(eq + 1));
      else if (next !== undefined && !next.startsWith("-")) values.push(next);
    } else if (/^-p[^\s]{4,}$/.test(arg) && hasLetter(arg.slice(2))) values.push(arg.slice(2));
  });
  return values.filter((v) => v.length >= MIN_KNOWN_LENGTH);
}

/** The values of labels or annotations whose key says they are secret (`db-password`, `api_token`). */
export function secretLabelValues(labels: Readonly<Record<string, string>> | null | undefined): string[] {
  return Object.entries(labels ?? {})
    .filter(([key]) => new RegExp(SECRET_WORDS, "i").test(key.slice(key.lastIndexOf("/") + 1)))
    .map(([, value]) => value)
    .filter((v) => v.length >= MIN_KNOWN_LENGTH);
}

type Span = [number, number];

/**
 * How many levels of backslash escapes are undone before matching: a value inside JSON
 * inside JSON (a JSON log line in `docker inspect`'s command line) and one more.
 */
const ESCAPE_LEVELS = 3;

/** The folded view of `text`, then the same with each further level of escapes decoded (unescapedView). */
function escapeLevels(text: string, options: FoldOptions): FoldedText[] {
  const levels = [foldForMatching(text, options)];
  for (let level = 0; level < ESCAPE_LEVELS; level++) {
    const next = unescapedView(levels[levels.length - 1] as FoldedText, options);
    if (!next) break;
    levels.push(next);
  }
  return levels;
}

function shapeSpans(folded: FoldedText): Span[] {
  const spans: Span[] = [];
  for (const shape of SHAPES) {
    for (const match of folded.view.matchAll(shape.pattern)) {
      const range = shape.secret(match);
      if (range && range[1] > range[0]) spans.push(originalRange(folded, range[0], range[1]));
    }
  }
  return spans;
}

const KNOWN_VIEW: FoldOptions = { lowerCase: true, joinLines: true };

function knownSpans(levels: readonly FoldedText[], knownSecrets: readonly string[]): Span[] {
  const forms = new Set(
    knownSecrets
      .flatMap((secret) => [...secretForms(secret), ...secretFragments(secret)])
      .map((form) => foldText(form, KNOWN_VIEW))
      .filter((f) => f.length >= MIN_KNOWN_LENGTH),
  );
  const spans: Span[] = [];
  for (const folded of levels) {
    for (const form of forms) {
      for (let at = folded.view.indexOf(form); at >= 0; at = folded.view.indexOf(form, at + 1)) {
        spans.push(originalRange(folded, at, at + form.length));
      }
    }
  }
  return spans;
}

/** Spans inside an existing `[REDACTED]` marker are no secret: redaction stays idempotent. */
function markers(text: string): Span[] {
  const found: Span[] = [];
  for (let at = text.indexOf(REDACTED); at >= 0; at = text.indexOf(REDACTED, at + 1))
    found.push([at, at + REDACTED.length]);
  return found;
}

function replaceSpans(text: string, spans: Span[]): string {
  if (spans.length === 0) return text;
  const existing = markers(text);
  const kept = spans
    .filter(([from, to]) => !existing.some(([mFrom, mTo]) => from >= mFrom && to <= mTo))
    .sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let out = "";
  let last = 0;
  for (const [from, to] of kept) {
    if (to <= last) continue;
    out += from >= last ? `${text.slice(last, from)}${REDACTED}` : "";
    last = to;
  }
  return out + text.slice(last);
}

/**
 * Replaces secrets with `[REDACTED]`: every occurrence of each known secret value of at
 * least 4 characters (container or pod env values, secret arguments, given by the caller)
 * in any of its secretForms, case-insensitively and also when split over lines, and
 * every 6-character piece (with a letter and a digit) of one that looks generated
 * (secretFragments); PEM private-key blocks; Anthropic (`sk-ant-…`, also wrapped over
 * lines or base64-encoded), other `sk-…`, GitHub (`ghp_…`, `github_pat_…`), Slack
 * (`xoxb-…`), AWS (`AKIA…`, and a bare 40-character secret key), Google (`AIza…`) keys and
 * JWTs; `Authorization:` values and `Bearer <token>`; the password in URL credentials (`scheme://user:[REDACTED]@host`);
 * the values of `password=`-style pairs (password, passwd, passphrase, pwd, pass, secret,
 * token, api_key, access_key, private_key, credentials; `=` or `:`, quoted or not, any
 * case, the key kept), of secret flags (`--password x`, `"--token", "x"`, `-pX`) and of
 * upper-case key words (`PASSWORD x`). Each is also found through up to ESCAPE_LEVELS
 * levels of backslash escapes (`\\u0067`, `\\n` between the lines of a wrapped value,
 * `\"password\": \"x\"`: text inside JSON, inside JSON again), the escaped range
 * replaced whole. Idempotent.
 */
export function redactSecrets(text: string, knownSecrets: readonly string[] = []): string {
  const known = knownSecrets.length > 0 ? knownSpans(escapeLevels(text, KNOWN_VIEW), knownSecrets) : [];
  const spans = [...known, ...escapeLevels(text, {}).flatMap(shapeSpans)];
  return replaceSpans(text, spans);
}

/** `NAME=value` → `NAME=[REDACTED]` for every entry: container env values are secret by default. */
export function redactEnv(env: readonly string[]): string[] {
  return env.map((entry) => {
    const eq = entry.indexOf("=");
    return eq < 0 ? entry : `${entry.slice(0, eq)}=${REDACTED}`;
  });
}

/** For audit files and logs: control sequences stripped, secrets redacted. */
export function sanitizeForLog(text: string, knownSecrets: readonly string[] = []): string {
  return redactSecrets(stripControl(text), knownSecrets);
}
