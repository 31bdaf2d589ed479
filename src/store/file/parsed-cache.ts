import { readFile, stat } from "node:fs/promises";
import { wrapError } from "../../errors.js";

/**
 * Parsed objects by file identity (inode, mtime, size). Every store write replaces a file by
 * rename, which gives it a new inode, and an edit in place changes its mtime; so while the
 * identity is unchanged the content is too, and a read costs a `stat` instead of a YAML parse
 * and a schema validation (the bench's profile: parsing was most of the file store's CPU).
 *
 * Caveat: every caller gets its own deep copy, so nothing a caller changes reaches the cache.
 */
export class ParsedFileCache<T> {
  private readonly entries = new Map<string, { identity: string; value: T }>();

  /** The parsed file, or undefined when it does not exist; `load` errors are thrown and nothing is cached. */
  async read(path: string, load: (text: string) => T): Promise<T | undefined> {
    try {
      const info = await stat(path);
      const identity = `${info.ino}:${info.mtimeMs}:${info.size}`;
      const cached = this.entries.get(path);
      if (cached?.identity === identity) return structuredClone(cached.value);
      // Read after the stat: a file replaced in between is newer than its identity says,
      // and the next read, seeing the new identity, parses it again. Never the reverse.
      const value = load(await readFile(path, "utf8"));
      this.entries.set(path, { identity, value });
      return structuredClone(value);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw isIoError(err) ? wrapError(`reading ${path}`, err) : err;
      this.entries.delete(path);
      return undefined;
    }
  }

  forget(path: string): void {
    this.entries.delete(path);
  }
}

function isIoError(err: unknown): boolean {
  return typeof (err as NodeJS.ErrnoException).code === "string" && typeof (err as NodeJS.ErrnoException).syscall === "string";
}
