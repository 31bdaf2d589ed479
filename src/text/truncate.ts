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
