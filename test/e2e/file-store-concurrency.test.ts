import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { waitFor } from "../../scripts/lib/wait.js";
import type { DesiredState } from "../../src/api/desired-state.js";
import { writeManifest } from "../support/desired-states.js";
import { metricSum } from "../support/metrics.js";
import { getDesiredState } from "../support/status.js";
import { cli, StewardProcess, tempStateDir } from "../support/steward.js";

/**
 * The file store under real concurrency: several `steward apply` processes at once, and a
 * `steward run` writing status after every spec change, all on one state dir. No update may
 * be lost, and a stale `metadata.resourceVersion` is reported to the user, never swallowed.
 */

const id = randomBytes(4).toString("hex");

/** A DesiredState over a Docker project no container has: every spec change makes `run` write status. */
function manifest(interval: string, resourceVersion?: string): string {
  return `apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: shared${resourceVersion === undefined ? "" : `, resourceVersion: "${resourceVersion}"`}}
spec:
  target: {docker: {project: steward-concurrency-${id}}}
  interval: ${interval}
  services: []
`;
}

const CONFLICT =
  /^error: DesiredState "shared" was modified concurrently \(resourceVersion \d+, expected \d+\); get it again/m;

describe("file store: concurrent steward apply processes and a running controller", () => {
  let state: string;
  let steward: StewardProcess;
  const current = async (): Promise<DesiredState> => {
    const ds = await getDesiredState(state, "shared");
    assert.ok(ds, "shared exists");
    return ds;
  };
  /** The controller has seen the latest spec and written its status for it. */
  const settled = (): Promise<DesiredState> =>
    waitFor(
      async () => {
        const ds = await current();
        return ds.status?.observedGeneration === ds.metadata.generation ? ds : undefined;
      },
      30_000,
      "status.observedGeneration to catch up with the generation",
    );

  before(async () => {
    state = await tempStateDir();
    const created = await cli(state, "apply", "-f", await writeManifest(state, "seed.yaml", manifest("60s")));
    assert.equal(created.code, 0, created.stderr);
    steward = new StewardProcess(state);
    await steward.start();
    await settled();
  });

  after(async () => {
    await steward.stop();
  });

  it("48 applies from 6 processes at once: every one counted in the generation, the last one's spec kept, the controller's status intact", async () => {
    const { metadata } = await current();
    const workers = 6;
    const rounds = 8;
    const intervals = (w: number): string[] => Array.from({ length: rounds }, (_, r) => `${1_000 + w * 100 + r}ms`);
    const outputs = await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        const lines: string[] = [];
        for (const interval of intervals(w)) {
          const applied = await cli(state, "apply", "-f", await writeManifest(state, `w${w}.yaml`, manifest(interval)));
          assert.equal(applied.code, 0, applied.stderr);
          lines.push(applied.stdout.trim());
        }
        return lines;
      }),
    );
    assert.deepEqual(new Set(outputs.flat()), new Set(["desiredstate.steward.dev/shared configured"]));
    const ds = await settled();
    assert.equal(
      ds.metadata.generation,
      (metadata.generation ?? 0) + workers * rounds,
      "each spec change bumped the generation once",
    );
    const lastOfEach = Array.from({ length: workers }, (_, w) => intervals(w).at(-1));
    assert.ok(
      lastOfEach.includes(ds.spec.interval),
      `the stored spec (${ds.spec.interval}) is one worker's last apply, not an earlier, overwritten one`,
    );
    assert.equal(ds.status?.conditions.find((c) => c.type === "Ready")?.status, "True");
    assert.equal(await metricSum(steward, "steward_reconcile_errors_total"), 0, "no reconcile failed");
  });

  it("an apply of a file with a stale metadata.resourceVersion fails, names the object and changes nothing", async () => {
    const read = await cli(state, "get", "ds", "shared", "-o", "yaml");
    const stale = (parse(read.stdout) as DesiredState).metadata.resourceVersion;
    assert.ok(stale);
    assert.equal((await cli(state, "apply", "-f", await writeManifest(state, "other.yaml", manifest("7s")))).code, 0);
    const refused = await cli(state, "apply", "-f", await writeManifest(state, "edited.yaml", manifest("9s", stale)));
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, CONFLICT);
    assert.equal(refused.stdout, "");
    assert.equal((await current()).spec.interval, "7s");
  });

  it("read-modify-apply loops from 4 processes, racing the controller's status writes: each success applied over the version it read, each loss reported", async () => {
    const results = await Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        const mine: { read: string; interval: string; code: number; stderr: string }[] = [];
        for (let r = 0; r < 6; r++) {
          const read = String((await current()).metadata.resourceVersion);
          const interval = `${2_000 + w * 10 + r}ms`;
          const applied = await cli(
            state,
            "apply",
            "-f",
            await writeManifest(state, `rmw${w}.yaml`, manifest(interval, read)),
          );
          mine.push({ read, interval, code: applied.code, stderr: applied.stderr });
        }
        return mine;
      }),
    );
    const all = results.flat();
    const won = all.filter((x) => x.code === 0);
    const lost = all.filter((x) => x.code !== 0);
    assert.ok(won.length > 0, "some apply succeeded");
    assert.equal(new Set(won.map((x) => x.read)).size, won.length, "no two applies succeeded over the same version");
    for (const x of lost) assert.match(x.stderr, CONFLICT);
    const last = won.reduce((a, b) => (Number(b.read) > Number(a.read) ? b : a));
    const ds = await settled();
    assert.equal(ds.spec.interval, last.interval, "the stored spec is that of the success over the newest version");
    console.log(`read-modify-apply: ${won.length} applied, ${lost.length} conflicts reported`);
  });
});
