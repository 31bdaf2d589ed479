import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { docker, ensureCluster } from "../../scripts/lib/cluster.js";
import { waitFor } from "../../scripts/lib/wait.js";
import type { DesiredState } from "../../src/api/desired-state.js";
import { ALL_MEMBERS_UP, etcdDesiredState } from "../support/desired-states.js";
import { startReady } from "../support/start.js";
import { condition, getDesiredState, listRemediations } from "../support/status.js";
import type { StewardProcess } from "../support/steward.js";

/** Unknown with the reason, not drift: what an unreachable Prometheus must look like. */
async function unknownBecausePrometheus(state: string): Promise<DesiredState | undefined> {
  const ds = await getDesiredState(state, "etcd");
  return condition(ds, "Ready") === "Unknown/PrometheusUnavailable" &&
    condition(ds, "Degraded") === "True/PrometheusUnavailable"
    ? ds
    : undefined;
}

describe("Prometheus down and back, or hung and back", () => {
  let state: string;
  let steward: StewardProcess;

  before(async () => {
    ({ state, steward } = await startReady(etcdDesiredState({ invariants: ALL_MEMBERS_UP })));
  });

  after(async () => {
    await docker("unpause", "prometheus").catch(() => "");
    await steward.stop();
    await ensureCluster();
  });

  it("stopped: Ready Unknown and Degraded with the reason, the invariant Unknown, nothing opened; Ready again by itself", async (t) => {
    await docker("stop", "-t", "1", "prometheus");
    const ds = await waitFor(() => unknownBecausePrometheus(state), 20_000, "Ready Unknown/PrometheusUnavailable");
    const degraded = ds.status?.conditions.find((c) => c.type === "Degraded");
    assert.match(
      degraded?.message ?? "",
      /127\.0\.0\.1:19090|ECONNREFUSED|connect/i,
      `the message names what failed: ${degraded?.message}`,
    );
    assert.equal(ds.status?.invariants[0]?.state, "Unknown");
    assert.equal(condition(ds, "Drifted"), "False/NoDrift");

    await docker("start", "prometheus");
    const backAt = Date.now();
    await waitFor(
      async () => condition(await getDesiredState(state, "etcd"), "Ready") === "True/AsDeclared",
      60_000,
      "Ready after Prometheus is back",
    );
    t.diagnostic(
      `Ready ${Date.now() - backAt} ms after Prometheus was started (includes its first scrapes and the invariant's for: 4s)`,
    );
    assert.deepEqual(await listRemediations(state), []);
  });

  it("hung (paused: connections accepted, never answered): queries time out, Unknown with the reason; Ready again by itself", async (t) => {
    await docker("pause", "prometheus");
    const ds = await waitFor(
      () => unknownBecausePrometheus(state),
      30_000,
      "Ready Unknown/PrometheusUnavailable while Prometheus hangs",
    );
    assert.match(ds.status?.conditions.find((c) => c.type === "Degraded")?.message ?? "", /timeout after 5000 ms/);
    assert.equal((await fetch(`http://${steward.metricsAddress}/healthz`)).status, 200, "it keeps running");

    await docker("unpause", "prometheus");
    const backAt = Date.now();
    await waitFor(
      async () => condition(await getDesiredState(state, "etcd"), "Ready") === "True/AsDeclared",
      60_000,
      "Ready after Prometheus answers again",
    );
    t.diagnostic(`Ready ${Date.now() - backAt} ms after Prometheus was unpaused`);
    assert.deepEqual(await listRemediations(state), []);
  });
});
