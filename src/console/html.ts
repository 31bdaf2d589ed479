import { escapeHtml } from "../text/html.js";

/**
 * Markup that is safe to send: built only by the `html` tag, from literal template text
 * and escaped values. Nothing else produces one, so an untrusted string can reach a page
 * only through `escapeHtml`.
 */
export class SafeHtml {
  private constructor(readonly text: string) {}

  /** @internal the `html` tag's only way to make one. */
  static fromTemplate(text: string): SafeHtml {
    return new SafeHtml(text);
  }

  toString(): string {
    return this.text;
  }
}

/** What may be interpolated: markup, text (escaped), numbers, nothing, or lists of these. */
export type Interpolation = SafeHtml | string | number | undefined | null | false | readonly Interpolation[];

function render(value: Interpolation): string {
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return (value as readonly Interpolation[]).map(render).join("");
  if (value === undefined || value === null || value === false) return "";
  return escapeHtml(String(value));
}

/**
 * The template tag of every page: each interpolated string is escaped, so it stays text
 * inside an element or a double-quoted attribute. Never interpolate into an unquoted
 * attribute, a URL scheme position, or a `<script>`/`<style>` element (there are none: the
 * pages carry no inline script or style, and the CSP forbids both).
 */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? "");
  return SafeHtml.fromTemplate(out);
}

/** A same-origin path from segments, each percent-encoded: `/remediations/default/etcd-x`. */
export function pathOf(...segments: string[]): string {
  return `/${segments.map(encodeURIComponent).join("/")}`;
}
