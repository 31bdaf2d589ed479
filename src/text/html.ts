import { escapeInvisible } from "./escape.js";
import { redactSecrets } from "./redact.js";

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/**
 * Text for an HTML page, in element content or a quoted attribute value: the five
 * characters that can end a text node or an attribute become entities, so a forged
 * `</pre><script>` or `" onerror="` stays text. Control and invisible characters are shown
 * as `\uXXXX` escapes, as in a terminal (newlines and tabs stay), and secrets are redacted:
 * what reaches a page comes from logs, labels and model output.
 */
export function escapeHtml(text: string): string {
  return escapeInvisible(redactSecrets(text), "\n\t").replace(/[&<>"']/g, (ch) => ENTITIES[ch] ?? ch);
}
