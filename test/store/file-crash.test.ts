import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import type { DesiredState } from "../../src/api/desired-state.js";
import { FileStore } from "../../src/store/file/file-store.js";
import { waitFor } from "../../scripts/lib/wait.js";
import { CRASH_OBJECTS, crashWrite } from "./workers/crash-writes.js";

const WORKER = new URL("./workers/write-loop.ts", import.meta.url).pathname;
const KILLS = 30;

interface Expected {
  project?: string;
  message?: string;
  resourceVersion: number;
}

interface Run {
  acks: { i: number; ms: number }[];
}

/** Starts the write loop at `first`, lets it write for a random while, SIGKILLs it. */
async function writeThenKill(dir: string, first: number): Promise<Run> {
  const child = spawn(process.execPath, ["--import", "tsx", WORKER, dir, String(first)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const run: Run = { acks: [] };
  let buffered = "";
  child.stdout.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      const [, i, ms] = line.split(" ");
      run.acks.push({ i: Number(i), ms: Number(ms) });
    }
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once("exit", (_code, signal) => resolve(signal)),
  );
  await waitFor(() => run.acks.length > 0 || child.exitCode !== null, 20_000, "the write loop's first write");
  await sleep(Math.random() * 120);
  child.kill("SIGKILL");
  assert.equal(await exited, "SIGKILL", "the loop was still writing when it was killed");
  return run;
}

function apply(expected: Map<string, Expected>, i: number): void {
  const write = crashWrite(i);
  const before = expected.get(write.name) ?? { resourceVersion: 0 };
  const after = write.op === "apply" ? { ...before, project: write.project } : { ...before, message: write.message };
  expected.set(write.name, { ...after, resourceVersion: before.resourceVersion + 1 });
}

function actual(object: DesiredState | undefined): Expected | undefined {
  if (!object) return undefined;
  const project = object.spec.target.docker?.project;
  const message = object.status?.conditions[0]?.message;
  // Keys only for what is there, as the model builds them (before any status write, no message).
  return {
    ...(project === undefined ? {} : { project }),
    ...(message === undefined ? {} : { message }),
    resourceVersion: Number(object.metadata.resourceVersion),
  };
}

const leftovers = async (dir: string): Promise<string[]> =>
  (await readdir(join(dir, "desiredstates", "default"))).filter((n) => n.endsWith(".tmp") || n.includes(".lock"));

describe("FileStore: a writer SIGKILLed mid-write", () => {
  it(`never corrupts an object: after each of ${KILLS} kills every file parses and validates and holds the old or the new version; leftovers never block and are swept on start`, async () => {
    const dir = await mkdtemp(join(tmpdir(), "steward-crash-"));
    const expected = new Map<string, Expected>();
    let next = 0;
    const seen = { inFlightLanded: 0, inFlightLost: 0, locksLeft: 0, tempsLeft: 0, slowestFirstWriteMs: 0 };
    for (let kill = 0; kill < KILLS; kill++) {
      const run = await writeThenKill(dir, next);
      assert.deepEqual(
        run.acks.map((a) => a.i),
        run.acks.map((_, k) => next + k),
        "acknowledged in order, from where the last run stopped",
      );
      seen.slowestFirstWriteMs = Math.max(seen.slowestFirstWriteMs, run.acks[0]?.ms ?? 0);
      for (const { i } of run.acks) apply(expected, i);
      const left = await leftovers(dir);
      if (left.some((n) => n.endsWith(".lock"))) seen.locksLeft++;
      if (left.some((n) => n.endsWith(".tmp"))) seen.tempsLeft++;
      // The write that was running when the kill came: it landed whole, or not at all.
      const inFlight = next + run.acks.length;
      const store = new FileStore(dir);
      const objects = new Map((await store.list("DesiredState")).map((o) => [o.metadata.name, actual(o)]));
      const target = crashWrite(inFlight).name;
      const landed = new Map(expected);
      apply(landed, inFlight);
      if (isDeepEqual(objects.get(target), landed.get(target))) {
        seen.inFlightLanded++;
        apply(expected, inFlight);
        next = inFlight + 1;
      } else {
        seen.inFlightLost++;
        next = inFlight;
      }
      for (let o = 0; o < Math.min(CRASH_OBJECTS, next); o++) {
        assert.deepEqual(
          objects.get(`o${o}`),
          expected.get(`o${o}`),
          `after kill ${kill}: o${o} is neither the old nor the new version (in flight: write ${inFlight})`,
        );
      }
    }
    // Each restarted loop's first write found the dead writer's lock and went on at once.
    assert.ok(seen.slowestFirstWriteMs < 2_000, `a first write after a kill took ${seen.slowestFirstWriteMs} ms`);
    assert.ok(
      seen.locksLeft >= 3,
      `kills caught a write holding its lock only ${seen.locksLeft} times: ${JSON.stringify(seen)}`,
    );
    assert.ok(next > KILLS * 3, `only ${next} writes in ${KILLS} runs`);
    // The controller's start removes what dead writers left; nothing else is touched.
    const store = new FileStore(dir);
    await store.start();
    assert.deepEqual(await leftovers(dir), []);
    assert.deepEqual((await readdir(join(dir, "desiredstates", "default"))).sort(), ["o0.yaml", "o1.yaml", "o2.yaml"]);
    await store.close();
    console.log(`crash loop: ${next} writes, ${KILLS} kills: ${JSON.stringify(seen)}`);
  });
});

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepEqual(a, b);
    return true;
  } catch {
    return false;
  }
}
