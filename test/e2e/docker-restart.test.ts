import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { afterEach, beforeEach, describe, it } from "node:test";
import { promisify } from "node:util";
import { containerState, docker, ensureCluster } from "../../scripts/lib/cluster.js";
import { etcdDesiredState } from "../support/desired-states.js";
import { metric } from "../support/metrics.js";
import { condition, getDesiredState, listRemediations } from "../support/status.js";
import { startReady } from "../support/start.js";
import type { StewardProcess } from "../support/steward.js";
import { waitFor } from "../../scripts/lib/wait.js";

const run = promisify(execFile);
const ENGINES = new URL("../../scripts/engines.sh", import.meta.url).pathname;

/** 1 while Steward's Docker observer is connected to the daemon, 0 while not. */
const dockerConnected = (steward: StewardProcess): Promise<number | undefined> =>
  metric(steward, "steward_observer_connected", '{observer="docker"}');

describe("dockerd restarted while steward run runs", () => {
  // Each test: its own Steward and state dir, Ready on the whole cluster; the cluster back after.
  let state: string;
  let steward: StewardProcess;

  beforeEach(async () => {
    ({ state, steward } = await startReady(etcdDesiredState()));
  });

  afterEach(async () => {
    await steward.stop();
    await ensureCluster();
  });

  it("the event stream reconnects and a stop after that is still fixed", async () => {
    // Watched from before the restart: the daemon may be back before the restart script returns.
    const disconnected = waitFor(
      async () => (await dockerConnected(steward)) === 0,
      120_000,
      "steward to notice the daemon went away",
    );
    disconnected.catch(() => undefined); // awaited below; a failed restart must not leave it unhandled
    await run("bash", [ENGINES, "restart-docker"], { timeout: 120_000 });
    await disconnected;
    await waitFor(async () => (await dockerConnected(steward)) === 1, 60_000, "steward to reconnect to the new daemon");
    // Containers without live-restore died with the old daemon; Steward starts them again either way.
    await ensureCluster();
    await waitFor(
      async () => condition(await getDesiredState(state, "etcd"), "Ready") === "True/AsDeclared",
      30_000,
      "Ready after the restart",
    );

    await docker("stop", "-t", "1", "etcd0");
    await waitFor(
      async () => (await containerState("etcd0")) === "running",
      20_000,
      "etcd0 started again after the daemon restart",
    );
    const ds = await getDesiredState(state, "etcd");
    assert.ok(ds?.status?.fixes.some((f) => f.subject === "container/etcd0" && f.result === "Succeeded"));
  });

  it("Degraded with the reason while it is down, nothing opened, Ready again by itself", async (t) => {
    const restarted = run("bash", [ENGINES, "restart-docker", "10"], { timeout: 180_000 });
    const degraded = await waitFor(
      async () => {
        const ds = await getDesiredState(state, "etcd");
        return condition(ds, "Degraded") === "True/DockerUnavailable" ? ds : undefined;
      },
      20_000,
      "Degraded/DockerUnavailable while the daemon is down",
    );
    const message = degraded.status?.conditions.find((c) => c.type === "Degraded")?.message ?? "";
    assert.match(message, /cannot observe Docker: /);
    assert.equal(condition(degraded, "Ready"), "Unknown/DockerUnavailable");
    assert.equal(condition(degraded, "Drifted"), "False/NoDrift", "a daemon that cannot be asked is not drift");
    await restarted;
    const backAt = Date.now();
    await waitFor(
      async () => condition(await getDesiredState(state, "etcd"), "Ready") === "True/AsDeclared",
      60_000,
      "Ready after the daemon is back",
    );
    t.diagnostic(`Ready ${Date.now() - backAt} ms after the daemon answered again`);
    assert.equal(condition(await getDesiredState(state, "etcd"), "Degraded"), "False/AllObserved");
    assert.deepEqual(await listRemediations(state), [], "no remediation for an outage of the daemon");
    // With --live-restore the members ran on: Steward had nothing to fix.
    const ds = await getDesiredState(state, "etcd");
    assert.deepEqual(
      ds?.status?.fixes.filter((f) => Date.parse(f.time) >= backAt - 20_000),
      [],
    );
  });
});
