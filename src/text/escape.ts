/**
 * Text from the systems Steward watches (container names, labels, log lines, error
 * messages) and from manifests reaches people's terminals. There, a control character
 * moves the cursor, retitles the window or hides what follows, and a bidi override or a
 * zero-width character makes text read differently from what it is. For people, such
 * characters are shown as visible escapes rather than removed, so nothing is hidden either
 * way. (For the model, src/agent/untrusted.ts strips them instead.)
 */

/**
 * C0 and C1 controls and DEL (`Cc`), format characters (`Cf`: bidi embeddings, overrides
 * and isolates, zero-width characters, the BOM, tag characters), line and paragraph
 * separators (`Zl`, `Zp`) and lone surrogates (`Cs`).
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

const hex = (code: number, digits: number): string => code.toString(16).padStart(digits, "0");

/** `\u001b`, `\u202e`; an astral character as `\u{e0041}`. */
export function displayEscape(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  return code > 0xffff ? `\\u{${hex(code, 1)}}` : `\\u${hex(code, 4)}`;
}

/** JSON's escape: `\u001b`; an astral character as its surrogate pair. */
export function jsonEscape(ch: string): string {
  return Array.from({ length: ch.length }, (_, i) => `\\u${hex(ch.charCodeAt(i), 4)}`).join("");
}

/** YAML's double-quoted escape: `\u001b`, `\U000e0041`. */
export function yamlEscape(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  return code > 0xffff ? `\\U${hex(code, 8)}` : `\\u${hex(code, 4)}`;
}

/**
 * Replaces every invisible character (above) except those in `keep` (e.g. "\n\t" for
 * multi-line text) with `escape(ch)`, by default a `\uXXXX` escape. Idempotent with the
 * default escape: the result has none left.
 */
export function escapeInvisible(text: string, keep = "", escape: (ch: string) => string = displayEscape): string {
  return text.replace(INVISIBLE, (ch) => (keep.includes(ch) ? ch : escape(ch)));
}

/** Whether `text` holds a character escapeInvisible would escape, other than those in `keep`. */
export function hasInvisible(text: string, keep = ""): boolean {
  for (const match of text.matchAll(INVISIBLE)) if (!keep.includes(match[0])) return true;
  return false;
}
