import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, open, readdir, readFile, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { sweepLeftovers, withFileLock } from "../../src/store/file/atomic.js";

const WORKER = new URL("./workers/lock-counter.ts", import.meta.url).pathname;

/** The pid of a process that has exited (pids are not reused within seconds). */
function deadPid(): number {
  const child = spawnSync("true");
  assert.ok(child.pid);
  return child.pid;
}

function runWorker(args: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", WORKER, ...args], {
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.once("error", reject);
    child.once("exit", (code) => resolve(code));
  });
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

  it("with no pid written (the holder died between create and write) is broken once it is old", async () => {
    const dir = await mkdtemp(join(tmpdir(), "steward-lock-"));
    const file = join(dir, "a.yaml");
    await writeFile(`${file}.lock`, "");
    const old = new Date(Date.now() - 60_000);
    await utimes(`${file}.lock`, old, old);
    await withFileLock(file, () => Promise.resolve());
  });

  it("held by a live process in this one is waited for, not broken", async () => {
    const dir = await mkdtemp(join(tmpdir(), "steward-lock-"));
    const file = join(dir, "a.yaml");
    const order: string[] = [];
    const first = withFileLock(file, async () => {
      order.push("first in");
      await sleep(100);
      order.push("first out");
    });
    await sleep(10);
    await withFileLock(file, () => Promise.resolve(void order.push("second")));
    await first;
    assert.deepEqual(order, ["first in", "first out", "second"]);
  });

  it("broken by many processes at once still lets only one of them in at a time (no lost increment)", async () => {
    // Regression: two waiters that both saw the same dead holder each removed "the" stale
    // lock, the second removing the lock the first had just taken, and both wrote.
    const dir = await mkdtemp(join(tmpdir(), "steward-lock-"));
    const file = join(dir, "counter");
    await writeFile(file, "0");
    const workers = 8;
    const rounds = 15;
    const period = 400;
    const firstAt = Date.now() + 3_000;
    const running = Array.from({ length: workers }, () =>
      runWorker([file, String(rounds), String(firstAt), String(period)]),
    );
    let planted = 0;
    for (let round = 0; round < rounds; round++) {
      // Shortly before each round: a lock from a dead process, which every worker meets.
      await sleep(Math.max(0, firstAt + round * period - 50 - Date.now()));
      if (await plantLock(`${file}.lock`, deadPid())) planted++;
    }
    assert.deepEqual(await Promise.all(running), Array(workers).fill(0));
    assert.ok(planted >= rounds - 2, `a stale lock was planted before ${planted} of ${rounds} rounds`);
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
