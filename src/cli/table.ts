import { escapeInvisible } from "../text/escape.js";

/**
 * Columns separated by three spaces, headers in capitals: the layout of `kubectl get`.
 * Cells hold names, labels and messages from the watched systems: every control or
 * invisible character in them (newline and tab too, which would break the layout) is
 * shown as a `\uXXXX` escape.
 */
export function formatTable(headers: readonly string[], rawRows: readonly (readonly string[])[]): string {
  const rows = rawRows.map((row) => row.map((cell) => escapeInvisible(cell)));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("   ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}
