import { stripControl } from "./strip.js";

/**
 * The project's one redactor. A container's logs, a label, an error from Docker or the API
 * server, a manifest: anything Steward passes on (to the model, the audit trail, a status,
 * a log line, a notification) may hold a secret, so it goes through redactSecrets first.
 */

/** Replaces each redacted secret. */
export const REDACTED = "[REDACTED]";

const SECRET_KEYS = String.raw`(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)`;

/** Patterns whose whole match is a secret. */
const WHOLE_SECRETS: readonly RegExp[] = [
  // PEM private keys, whole block; an unterminated block is redacted to the end.
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*-----|$)/g,
  // No word boundary: the prefix is distinctive, and a key glued to a word is still a key.
  /sk-ant-[A-Za-z0-9_-]+/g,
  /\bsk-[A-Za-z0-9_-]{16,}/g,
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g,
  /\bgithub_pat_[A-Za-z0-9_]{20,}/g,
  /\bxox[abprs]-[A-Za-z0-9-]{10,}/g,
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g,
];

/** Patterns where group 1 is kept and the rest is the secret. */
const KEPT_PREFIX_SECRETS: readonly RegExp[] = [
  // `Authorization: Bearer x`, `Authorization: Basic x`, `"authorization": "x"`.
  /\b(authorization["']?\s*[:=]\s*["']?(?:(?:bearer|basic|digest|token)\s+)?)[^\s"',;]+/gi,
  /\b(bearer\s+)[A-Za-z0-9._~+/=-]+/gi,
  // `scheme://user:password@host` keeps the user.
  /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:)[^\s/]+(?=@)/gi,
];

// `password=x`, `DB_PASSWORD: "x y"`, `"api_key": 'x'`, `client_secret=x`: the key (with
// any `_suffix`) is kept and the value redacted, quoted or not. `tokens: 12` is not a pair:
// the key must end at a separator, not run on into a longer word.
const PAIR = new RegExp(
  String.raw`(${SECRET_KEYS}(?:[_-][A-Za-z0-9]+)*["']?\s*[:=]\s*)(?:"[^"\n]*"|'[^'\n]*'|[^\s"',;&}]+)`,
  "gi",
);

function redactKnown(text: string, knownSecrets: readonly string[]): string {
  // Longest first, so a secret that contains another is removed whole. A value also
  // appears JSON-escaped when output is JSON (`"a\"b"`), and without its control and
  // invisible characters once the text has been through stripControl, so those forms are
  // removed too.
  const forms = knownSecrets
    .flatMap((s) => [s, stripControl(s)])
    .filter((s) => s.length >= 4)
    .flatMap((s) => [s, JSON.stringify(s).slice(1, -1)])
    .sort((a, b) => b.length - a.length);
  let out = text;
  for (const secret of new Set(forms)) out = out.split(secret).join(REDACTED);
  return out;
}

/**
 * Replaces secrets with `[REDACTED]`: every occurrence of each known secret value of at
 * least 4 characters (container env values, given by the caller); PEM private-key blocks;
 * Anthropic (`sk-ant-…`), other `sk-…`, GitHub (`ghp_…`, `github_pat_…`), Slack (`xoxb-…`)
 * and AWS (`AKIA…`) tokens; `Authorization:` values and `Bearer <token>`; the password in
 * URL credentials (`scheme://user:[REDACTED]@host`); and the values of `password=`-style
 * pairs (password, passwd, pwd, secret, token, api_key, apikey, api-key, access_key,
 * private_key; `=` or `:`, quoted or not, any case, the key kept). Idempotent.
 */
export function redactSecrets(text: string, knownSecrets: readonly string[] = []): string {
  let out = redactKnown(text, knownSecrets);
  for (const pattern of WHOLE_SECRETS) out = out.replace(pattern, REDACTED);
  for (const pattern of KEPT_PREFIX_SECRETS) out = out.replace(pattern, `$1${REDACTED}`);
  return out.replace(PAIR, (match: string, key: string) => {
    const quote = match.slice(key.length, key.length + 1);
    return quote === '"' || quote === "'" ? `${key}${quote}${REDACTED}${quote}` : `${key}${REDACTED}`;
  });
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
