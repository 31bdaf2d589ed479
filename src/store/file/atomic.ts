import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { StewardError } from "../../errors.js";

/**
 * Writes a file so that a reader (or a crash) sees either the old or the new content,
 * never a mix: write a temp file in the same directory, fsync it, rename over the target,
 * fsync the directory so the rename itself survives a power cut.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const handle = await open(temp, "w", 0o600);
  try {
    await handle.writeFile(text, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await syncDirectory(dirname(path));
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A lock older than this is from a process that died mid-write (writes take milliseconds). */
const STALE_LOCK_MS = 10_000;
const LOCK_WAIT_MS = 15_000;
const LOCK_POLL_MS = 5;

/**
 * Runs `fn` holding an exclusive, cross-process lock on `path` (a `path.lock` file created
 * with O_EXCL). The CLI and a running controller are different processes, and each does a
 * read-modify-write of one object file; the lock makes those writes serial so neither
 * loses the other's change.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await open(lock, "wx", 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if (await breakStaleLock(lock)) continue;
      if (Date.now() > deadline) {
        throw new StewardError(`timed out waiting for the lock ${lock}; if no Steward process is running, delete it`);
      }
      await sleep(LOCK_POLL_MS + Math.random() * LOCK_POLL_MS);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

async function breakStaleLock(lock: string): Promise<boolean> {
  try {
    const [info, text] = await Promise.all([stat(lock), readFile(lock, "utf8")]);
    const pid = Number(text.trim());
    const holderGone = Number.isInteger(pid) && pid > 0 && !processAlive(pid);
    if (holderGone || Date.now() - info.mtimeMs > STALE_LOCK_MS) {
      await rm(lock, { force: true });
      return true;
    }
  } catch {
    // The lock vanished while we looked: its holder released it; try again at once.
    return true;
  }
  return false;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
