/**
 * The leak oracle of the containment suite and the e2e tests: does a text hold a fragment
 * (6 characters or more) of a secret, in any form a reader could decode? It is written
 * apart from the redactor, from the reader's side: it decodes what it finds (base64 at every
 * offset, standard and URL-safe; hex; %-escapes; \u and \x escapes), reverses, folds case
 * and drops line breaks, and looks for the secret's fragments in each reading.
 */

const BASE64_RUN = /[A-Za-z0-9+/_=-]{8,}/g;
const HEX_RUN = /[0-9a-fA-F]{12,}/g;

function base64Readings(text: string): string[] {
  const readings: string[] = [];
  for (const [run] of text.matchAll(BASE64_RUN)) {
    for (let offset = 0; offset < 4; offset++) {
      const part = run.slice(offset);
      readings.push(Buffer.from(part, "base64").toString("latin1"), Buffer.from(part, "base64url").toString("latin1"));
    }
  }
  return readings;
}

function hexReadings(text: string): string[] {
  return [...text.matchAll(HEX_RUN)].flatMap(([run]) => [
    Buffer.from(run, "hex").toString("latin1"),
    Buffer.from(run.slice(1), "hex").toString("latin1"),
  ]);
}

const unescape = (text: string): string =>
  text
    .replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
    .replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
    .replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
    .replace(/\+/g, " ");

/** Every reading of `text`: as it is, unescaped, reversed, and every base64 or hex run decoded; lines joined. */
export function readings(text: string): string[] {
  const joined = text.replace(/[\r\n]/g, "");
  const plain = [joined, unescape(joined), [...joined].reverse().join("")];
  return [...plain, ...base64Readings(joined), ...hexReadings(joined)].map((r) => r.toLowerCase());
}

/** The first fragment of `secret` (at least `min` characters) some reading of `text` holds, if any. */
export function leakOf(text: string, secret: string, min = 6): string | undefined {
  const lower = secret.toLowerCase();
  const fragments = new Set<string>();
  for (let i = 0; i + min <= lower.length; i++) fragments.add(lower.slice(i, i + min));
  for (const reading of readings(text)) {
    for (const fragment of fragments) if (reading.includes(fragment)) return fragment;
  }
  return undefined;
}

/** Every string in a parsed JSON value (a request body, a status), joined by newlines: JSON escapes undone. */
export function stringsOf(value: unknown): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map(stringsOf).join("\n");
  if (value && typeof value === "object") return Object.values(value).map(stringsOf).join("\n");
  return "";
}

/** Secrets whose fragments cannot occur by chance in hex, base64 noise or prose: letters past `f` alternating with digits. */
export function distinctiveSecret(length = 20): string {
  const letters = "ghjkmnpqrstvwxyz";
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return [...bytes].map((b, i) => (i % 2 === 0 ? (letters[b % 16] ?? "g") : String(b % 10))).join("");
}
