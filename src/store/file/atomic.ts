import { randomBytes } from "node:crypto";
import { link, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { StewardError } from "../../errors.js";
import { jittered } from "../../resilience/backoff.js";

/**
 * Writes a file so that a reader (or a crash) sees either the old or the new content,
 * never a mix: write a temp file in the same directory, fsync it, rename over the target,
 * fsync the directory so the rename itself survives a power cut. A crash leaves at most a
 * temp file `.<name>.<pid>.<hex>.tmp` behind, which readers ignore and sweepLeftovers removes.
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
/** Breaking a lock takes microseconds; a `.break` file older than this was left by a crash. */
const STALE_BREAK_MS = 2_000;
const LOCK_WAIT_MS = 15_000;
/** A writer waiting for the lock looks again after 5 to 10 ms (jittered: two waiters do not poll in step). */
const LOCK_POLL_MS = 5;

/**
 * Per lock file, how many calls in this process hold it or are about to (between marking
 * and linking). A lock file names its holder's pid; one naming our own pid with no call here
 * was left by an earlier process that had the same pid (a container's PID 1 after a
 * restart), so it is stale although that pid is alive. A count, not a set: with a set, a
 * call whose link failed unmarked the lock another call here had just taken, and a third
 * call then broke that live lock (two writers; the store contract's concurrent test lost
 * a generation bump to it).
 */
const claimsInThisProcess = new Map<string, number>();

function claim(lock: string): void {
  claimsInThisProcess.set(lock, (claimsInThisProcess.get(lock) ?? 0) + 1);
}

function unclaim(lock: string): void {
  const left = (claimsInThisProcess.get(lock) ?? 1) - 1;
  if (left > 0) claimsInThisProcess.set(lock, left);
  else claimsInThisProcess.delete(lock);
}

/**
 * Runs `fn` holding an exclusive, cross-process lock on `path` (a `path.lock` file, created
 * atomically and holding the holder's pid). The CLI and a running controller are
 * different processes, and each does a read-modify-write of one object file; the lock makes
 * those writes serial so neither loses the other's change. A lock whose holder died (its
 * pid is gone, or it is older than STALE_LOCK_MS) is broken at once, so a process killed
 * mid-write never blocks the next one for long.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    if (await tryCreateLock(lock)) break;
    if (await breakStaleLock(lock)) continue;
    if (Date.now() > deadline) {
      throw new StewardError(`timed out waiting for the lock ${lock}; if no Steward process is running, delete it`);
    }
    await sleep(jittered(LOCK_POLL_MS, 1));
  }
  try {
    return await fn();
  } finally {
    // Removed before it is unclaimed: while the file exists, no call here may see it as stale.
    await rm(lock, { force: true });
    unclaim(lock);
  }
}

/**
 * Creates the lock with the pid already in it: written to a temp file, then hard-linked to
 * the lock's name, which fails if the lock exists (as O_EXCL would). A lock file is thus
 * never seen empty, so a holder killed at any point leaves a lock naming its pid, which
 * the next writer breaks at once instead of waiting STALE_LOCK_MS.
 */
async function tryCreateLock(lock: string): Promise<boolean> {
  const temp = join(dirname(lock), `.${basename(lock)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  await writeFile(temp, `${process.pid}\n`, { mode: 0o600 });
  // Claimed before the link exists, so that no other call in this process, meeting a lock
  // with our pid that it does not know as claimed, breaks it; the claim is dropped if the
  // link fails.
  claim(lock);
  try {
    await link(temp, lock);
    return true;
  } catch (err) {
    unclaim(lock);
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    await rm(temp, { force: true });
  }
}

interface LockView {
  ino: number;
  /** The holder's pid; undefined for an empty lock (written by an older Steward that died mid-create). */
  pid: number | undefined;
  ageMs: number;
}

async function viewLock(lock: string): Promise<LockView | undefined> {
  try {
    const [info, text] = await Promise.all([stat(lock), readFile(lock, "utf8")]);
    const pid = Number(text.trim());
    return { ino: info.ino, pid: Number.isInteger(pid) && pid > 0 ? pid : undefined, ageMs: Date.now() - info.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Why the lock's holder cannot be holding it any more, or undefined when it may be. */
function staleness(lock: string, view: LockView): "dead" | "old" | undefined {
  if (view.pid !== undefined) {
    if (view.pid === process.pid ? !claimsInThisProcess.has(lock) : !processAlive(view.pid)) return "dead";
  }
  return view.ageMs > STALE_LOCK_MS ? "old" : undefined;
}

/**
 * Removes `lock` if its holder is gone; true when the caller should try to take it at once
 * (it was removed, or it had vanished). Breakers are serialised by a second O_EXCL file,
 * `lock.break`, and re-check the lock while holding it: without that, two waiters that both
 * saw the same dead holder could each remove a lock, the second removing the one the first
 * had just taken, and both would then write.
 */
async function breakStaleLock(lock: string): Promise<boolean> {
  const seen = await viewLock(lock);
  if (!seen) return true;
  if (!staleness(lock, seen)) return false;
  const breaker = `${lock}.break`;
  if (!(await tryCreateBreaker(breaker))) return false;
  try {
    const now = await viewLock(lock);
    if (!now) return true;
    const why = staleness(lock, now);
    if (now.ino !== seen.ino || !why) return false;
    await rm(lock, { force: true });
    if (why === "dead" && now.pid !== undefined) await removeTempFilesOf(lock.slice(0, -".lock".length), now.pid);
    return true;
  } finally {
    await rm(breaker, { force: true });
  }
}

async function tryCreateBreaker(breaker: string): Promise<boolean> {
  try {
    await (await open(breaker, "wx", 0o600)).close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    // Left by a process killed while breaking: old enough, it is removed; the caller retries.
    const info = await stat(breaker).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > STALE_BREAK_MS) await rm(breaker, { force: true });
    return false;
  }
}

/** The temp files a dead writer left for `path` (it died between open and rename). */
async function removeTempFilesOf(path: string, pid: number): Promise<void> {
  const prefix = `.${basename(path)}.${pid}.`;
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((n) => n.startsWith(prefix) && n.endsWith(".tmp"))
      .map((n) => rm(join(dirname(path), n), { force: true })),
  );
}

const TEMP_FILE = /^\.(.+)\.(\d+)\.[0-9a-f]+\.tmp$/;

/**
 * Cleans what crashed writers left in `dir`: temp files of dead processes, lock files whose
 * holder is gone, and stale `.break` files. Live writers' files are left alone, so this is
 * safe while other processes write. Returns how many files it removed.
 */
export async function sweepLeftovers(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) if (await sweepOne(join(dir, name), name)) removed++;
  return removed;
}

/** Removes one leftover if it is one; whether it did. */
async function sweepOne(path: string, name: string): Promise<boolean> {
  const temp = TEMP_FILE.exec(name);
  if (temp) {
    const pid = Number(temp[2]);
    if (pid === process.pid || processAlive(pid)) return false;
    await rm(path, { force: true });
    return true;
  }
  if (name.endsWith(".lock")) {
    const view = await viewLock(path);
    return view !== undefined && staleness(path, view) !== undefined && (await breakStaleLock(path));
  }
  if (name.endsWith(".lock.break")) {
    const info = await stat(path).catch(() => undefined);
    if (!info || Date.now() - info.mtimeMs <= STALE_BREAK_MS) return false;
    await rm(path, { force: true });
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
