const truncationMarker = (bytes: number): string => `\n…[truncated ${bytes} bytes]…\n`;
const isContinuationByte = (byte: number | undefined): boolean => byte !== undefined && (byte & 0xc0) === 0x80;

/**
 * Cuts `text` to at most `maxBytes` UTF-8 bytes, keeping the head and the tail (where the
 * error usually is) around a `\n…[truncated N bytes]…\n` marker; N is the number of bytes
 * left out. Never splits a character. When `maxBytes` is smaller than the marker itself,
 * the result is the marker alone.
 */
export function truncate(text: string, maxBytes: number): string {
  const buf = Buffer.from(text, "utf8");
  if (buf.length <= maxBytes) return text;
  // The marker for the whole length has at least as many digits as the final one, so
  // reserving its size keeps the result within maxBytes.
  const room = maxBytes - Buffer.byteLength(truncationMarker(buf.length));
  if (room <= 0) return truncationMarker(buf.length);
  let headEnd = Math.floor(room / 2);
  while (headEnd > 0 && isContinuationByte(buf[headEnd])) headEnd--;
  let tailStart = buf.length - (room - Math.floor(room / 2));
  while (tailStart < buf.length && isContinuationByte(buf[tailStart])) tailStart++;
  const dropped = tailStart - headEnd;
  return `${buf.toString("utf8", 0, headEnd)}${truncationMarker(dropped)}${buf.toString("utf8", tailStart)}`;
}

/**
 * The two ends of a very long text, `bytes`/2 of each (whole characters), and how many bytes
 * lay between them: for work that must not run over all of it (redaction of a huge log).
 * A text of at most `bytes` is its own head, with an empty tail.
 */
export function ends(text: string, bytes: number): { head: string; tail: string; omitted: number } {
  const buf = Buffer.from(text, "utf8");
  if (buf.length <= bytes) return { head: text, tail: "", omitted: 0 };
  let headEnd = Math.floor(bytes / 2);
  while (headEnd > 0 && isContinuationByte(buf[headEnd])) headEnd--;
  let tailStart = buf.length - Math.floor(bytes / 2);
  while (tailStart < buf.length && isContinuationByte(buf[tailStart])) tailStart++;
  return {
    head: buf.toString("utf8", 0, headEnd),
    tail: buf.toString("utf8", tailStart),
    omitted: tailStart - headEnd,
  };
}

/**
 * As truncate, for a text whose middle (`omitted` bytes of it) is already gone: the start of
 * `head` and the end of `tail` around a marker that counts every byte left out, within
 * `maxBytes`. With nothing omitted and everything fitting, the text itself.
 */
export function truncateAround(head: string, tail: string, maxBytes: number, omitted: number): string {
  const h = Buffer.from(head, "utf8");
  const t = Buffer.from(tail, "utf8");
  const total = h.length + omitted + t.length;
  if (omitted === 0) return truncate(head + tail, maxBytes);
  const room = maxBytes - Buffer.byteLength(truncationMarker(total));
  if (room <= 0) return truncationMarker(total);
  let headEnd = Math.min(h.length, Math.floor(room / 2));
  while (headEnd > 0 && isContinuationByte(h[headEnd])) headEnd--;
  let tailStart = Math.max(0, t.length - (room - headEnd));
  while (tailStart < t.length && isContinuationByte(t[tailStart])) tailStart++;
  const dropped = h.length - headEnd + omitted + tailStart;
  return `${h.toString("utf8", 0, headEnd)}${truncationMarker(dropped)}${t.toString("utf8", tailStart)}`;
}
