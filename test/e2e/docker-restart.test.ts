import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { containerState, docker, ensureCluster } from "../../scripts/lib/cluster.js";
import { etcdDesiredState } from "../support/desired-states.js";
import { condition, getDesiredState, listRemediations } from "../support/status.js";
import { startReady } from "../support/start.js";
import type { StewardProcess } from "../support/steward.js";
import { waitFor } from "../../scripts/lib/wait.js";

const run = promisify(execFile);
const ENGINES = new URL("../../scripts/engines.sh", import.meta.url).pathname;

describe("dockerd restarted while steward run runs", () => {
  let state: string;
  let steward: StewardProcess;

  before(async () => {
    ({ state, steward } = await startReady(etcdDesiredState()));
  });

  after(async () => {
    await steward.stop();
    await ensureCluster();
  });

  it("the event stream reconnects and a stop after that is still fixed", async () => {
    await run("bash", [ENGINES, "restart-docker"], { timeout: 120_000 });
    await waitFor(
      () => steward.logsMatching(/"docker connection".*"state":"disconnected"/).length > 0,
      30_000,
      "steward to notice the daemon went away",
    );
    await waitFor(
      () => steward.logsMatching(/"docker connection".*"state":"connected"/).length > 1,
      60_000,
      "steward to reconnect to the new daemon",
    );
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
});

describe("dockerd down for a while, then back", () => {
  let state: string;
  let steward: StewardProcess;

  before(async () => {
    ({ state, steward } = await startReady(etcdDesiredState()));
  });

  after(async () => {
    await steward.stop();
    await ensureCluster();
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
