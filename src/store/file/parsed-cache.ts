import { readFile } from "node:fs/promises";
import { wrapError } from "../../errors.js";

/**
 * Parsed objects by file content. A read still reads the file, but skips the YAML parse and
 * the schema validation when the text is what was parsed last time (the bench's profile:
 * parsing was most of the file store's CPU). Not by (inode, mtime, size): file timestamps
 * tick at the kernel's coarse clock and a freed inode is reused at once, so two writes in
 * one tick can leave a different file with the same identity (the store contract's
 * concurrent-writers test caught it).
 *
 * Caveat: every caller gets its own deep copy, so nothing a caller changes reaches the cache.
 */
export class ParsedFileCache<T> {
  private readonly entries = new Map<string, { text: string; value: T }>();

  /** The parsed file, or undefined when it does not exist; `load` errors are thrown and nothing is cached. */
  async read(path: string, load: (text: string) => T): Promise<T | undefined> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT")
        throw isIoError(err) ? wrapError(`reading ${path}`, err) : err;
      this.entries.delete(path);
      return undefined;
    }
    const cached = this.entries.get(path);
    if (cached?.text === text) return structuredClone(cached.value);
    const value = load(text);
    this.entries.set(path, { text, value });
    return structuredClone(value);
  }

  forget(path: string): void {
    this.entries.delete(path);
  }
}

function isIoError(err: unknown): boolean {
  return (
    typeof (err as NodeJS.ErrnoException).code === "string" &&
    typeof (err as NodeJS.ErrnoException).syscall === "string"
  );
}
