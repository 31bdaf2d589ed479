import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { watch } from "node:fs";
import { mkdtemp, open, readdir, readFile, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { sweepLeftovers, withFileLock, writeFileAtomic } from "../../src/store/file/atomic.js";
import { waitFor } from "../../scripts/lib/wait.js";

const WORKER = new URL("./workers/lock-counter.ts", import.meta.url).pathname;

/** The pid of a process that has exited (pids are not reused within seconds). */
function deadPid(): number {
  const child = spawnSync("true");
  assert.ok(child.pid);
  return child.pid;
}

/** A worker process; `kill` ends it (a failed test must not leave workers waiting for a round that never opens). */
function runWorker(args: string[]): { exited: Promise<number | null>; kill: () => void } {
  const child = spawn(process.execPath, ["--import", "tsx", WORKER, ...args], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => resolve(code));
  });
  return { exited, kill: () => void child.kill("SIGKILL") };
}

/** Creates `lock` naming `pid` unless a lock is there (a worker holds it). */
async function plantLock(lock: string, pid: number): Promise<boolean> {
  try {
    const handle = await open(lock, "wx");
    await handle.writeFile(`${pid}\n`);
    await handle.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Counts attempts to take `file`'s lock from now on: each attempt writes a temp file
 * `.<name>.lock.<pid>.<hex>.tmp` (inotify sees it) before it tries the lock. The positive
 * signal that a waiter has met the lock and not broken it.
 */
function lockAttempts(file: string): { count: () => number; close: () => void } {
  const name = file.split("/").at(-1) ?? "";
  const seen = new Set<string>();
  const watcher = watch(join(file, ".."), (_event, entry) => {
    if (entry?.startsWith(`.${name}.lock.`) && entry.endsWith(".tmp")) seen.add(entry);
  });
  return { count: () => seen.size, close: () => watcher.close() };
}

describe("withFileLock: a lock left by a dead process", () => {
  it("is broken at once when its pid is gone, not after the 10 s staleness age", async () => {
    const dir = await mkdtemp(join(tmpdir(), "steward-lock-"));
    const file = join(dir, "a.yaml");
    await writeFile(`${file}.lock`, `${deadPid()}\n`);
    const started = Date.now();
    assert.equal(await withFileLock(file, () => Promise.resolve("ran")), "ran");
    assert.ok(Date.now() - started < 1_000, `took ${Date.now() - started} ms`);
    assert.deepEqual(await readdir(dir), []);
  });

  it("naming this process's own pid but not held by it (a restarted container's PID 1) is broken at once", async () => {
    const dir = await mkdtemp(join(tmpdir(), "steward-lock-"));
    const file = join(dir, "a.yaml");
    await writeFile(`${file}.lock`, `${process.pid}\n`);
    const started = Date.now();
    await withFileLock(file, () => Promise.resolve());
    assert.ok(Date.now() - started < 1_000, `took ${Date.now() - started} ms`);
  });

  it("with no pid written (the holder died between create and write) is waited for while young, broken once it is old", async () => {
    const dir = await mkdtemp(join(tmpdir(), "steward-lock-"));
    const file = join(dir, "a.yaml");
    await writeFile(`${file}.lock`, "");
    const attempts = lockAttempts(file);
    let ran = false;
    const locked = withFileLock(file, () => Promise.resolve((ran = true)));
    await waitFor(() => attempts.count() >= 3 || ran, 5_000, "three attempts on the young lock");
    assert.equal(ran, false, "a young empty lock is not broken");
    assert.equal(await readFile(`${file}.lock`, "utf8"), "", "the lock is still the one planted");
    const old = new Date(Date.now() - 60_000);
    await utimes(`${file}.lock`, old, old);
    assert.equal(await locked, true, "broken once old: the call ran");
    attempts.close();
    assert.deepEqual(await readdir(dir), [], "and released its own lock");
  });

  it("held by a live process in this one is waited for, not broken", async () => {
    const dir = await mkdtemp(join(tmpdir(), "steward-lock-"));
    const file = join(dir, "a.yaml");
    const order: string[] = [];
    let releaseFirst: () => void = () => undefined;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    const first = withFileLock(file, async () => {
      order.push("first in");
      await firstHeld;
      order.push("first out");
    });
    await waitFor(() => order.length > 0, 2_000, "the first to hold the lock");
    const attempts = lockAttempts(file);
    const second = withFileLock(file, () => Promise.resolve(void order.push("second")));
    await waitFor(() => attempts.count() >= 3 || order.includes("second"), 5_000, "three attempts of the second");
    attempts.close();
    assert.deepEqual(order, ["first in"], "the second waits");
    releaseFirst();
    await Promise.all([first, second]);
    assert.deepEqual(order, ["first in", "first out", "second"]);
  });

  it("broken by many processes at once still lets only one of them in at a time (no lost increment)", async () => {
    // Regression: two waiters that both saw the same dead holder each removed "the" stale
    // lock, the second removing the lock the first had just taken, and both wrote.
    const dir = await mkdtemp(join(tmpdir(), "steward-lock-"));
    const file = join(dir, "counter");
    const roundFile = join(dir, "round");
    await writeFile(file, "0");
    await writeFileAtomic(roundFile, "0");
    const workers = 8;
    const rounds = 15;
    const running = Array.from({ length: workers }, () => runWorker([file, String(rounds), roundFile]));
    try {
      await waitFor(
        async () => (await readdir(dir)).filter((f) => f.startsWith("counter.ready.")).length === workers,
        60_000,
        "every worker waiting for the first round",
      );
      for (let round = 0; round < rounds; round++) {
        // Once the last round's increments are in and its lock is gone: a lock from a dead
        // process, which every worker meets when the round opens. A lost increment keeps the
        // counter short of the round's total for good.
        await waitFor(
          async () =>
            Number(await readFile(file, "utf8")) === workers * round && (await plantLock(`${file}.lock`, deadPid())),
          30_000,
          `the counter at ${workers * round} after round ${round} (every increment in), and a dead process's lock planted`,
        );
        await writeFileAtomic(roundFile, String(round + 1));
      }
      assert.deepEqual(await Promise.all(running.map((w) => w.exited)), Array(workers).fill(0));
    } finally {
      for (const worker of running) worker.kill();
    }
    assert.equal(Number(await readFile(file, "utf8")), workers * rounds, "every increment survived");
  });
});

describe("sweepLeftovers", () => {
  it("removes dead writers' temp and lock files and keeps live ones and object files", async () => {
    const dir = await mkdtemp(join(tmpdir(), "steward-sweep-"));
    const dead = deadPid();
    await writeFile(join(dir, "a.yaml"), "kept");
    await writeFile(join(dir, `.a.yaml.${dead}.0badcafe.tmp`), "half");
    await writeFile(join(dir, `.b.yaml.${process.pid}.0badcafe.tmp`), "a live writer's");
    await writeFile(join(dir, "a.yaml.lock"), `${dead}\n`);
    await writeFile(join(dir, "c.yaml.lock"), `${process.ppid}\n`);
    assert.equal(await sweepLeftovers(dir), 2);
    assert.deepEqual((await readdir(dir)).sort(), [
      ".b.yaml." + process.pid + ".0badcafe.tmp",
      "a.yaml",
      "c.yaml.lock",
    ]);
  });
});
