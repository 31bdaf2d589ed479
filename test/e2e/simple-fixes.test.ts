import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { containerState, docker, ensureCluster } from "../../scripts/lib/cluster.js";
import { etcdDesiredState, writeManifest } from "../support/desired-states.js";
import { condition, getDesiredState, listRemediations } from "../support/status.js";
import { startReady } from "../support/start.js";
import { cli, type StewardProcess } from "../support/steward.js";
import { waitFor } from "../../scripts/lib/wait.js";

describe("simple fixes on the real etcd cluster", () => {
  let state: string;
  let steward: StewardProcess;

  before(async () => {
    ({ state, steward } = await startReady(etcdDesiredState({ healthy: true })));
  });

  after(async () => {
    assert.equal(await steward.stop(), 0, "steward run exits 0 on SIGTERM");
    await ensureCluster();
  });

  it("docker stop of a member: running again, drift cleared, the fix in status and describe", async () => {
    const stoppedAt = Date.now();
    await docker("stop", "-t", "1", "etcd1");
    const stopDone = Date.now();
    await waitFor(async () => (await containerState("etcd1")) === "running", 15_000, "etcd1 running again");
    const recoveredAt = Date.now();
    console.log(
      `etcd1: docker stop returned after ${stopDone - stoppedAt} ms; running again ${recoveredAt - stopDone} ms after that`,
    );
    const ds = await waitFor(
      async () => {
        const current = await getDesiredState(state, "etcd");
        return current?.status?.drift.length === 0 && condition(current, "Ready") === "True/AsDeclared"
          ? current
          : undefined;
      },
      20_000,
      "drift cleared and Ready again",
    );
    const fix = ds.status?.fixes.find((f) => f.subject === "container/etcd1");
    assert.equal(fix?.action, "start");
    assert.equal(fix?.result, "Succeeded");
    const described = await cli(state, "describe", "desiredstate", "etcd");
    assert.match(described.stdout, /Simple fixes:[\s\S]*container\/etcd1\s+start\s+Succeeded\s+started etcd1/);
    assert.deepEqual(await listRemediations(state), [], "a simple fix opens no remediation");
  });

  it("serves /metrics, /healthz and /readyz on loopback", async () => {
    const base = `http://${steward.metricsAddress}`;
    assert.match(steward.metricsAddress, /^127\.0\.0\.1:\d+$/);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /steward_reconcile_total\{controller="desiredstate",result="success"\} \d+/);
    assert.match(metrics, /steward_simple_fixes_total\{action="start",result="Succeeded"\} [1-9]/);
    assert.match(metrics, /steward_drift\{desiredstate="etcd"\} 0/);
    assert.match(metrics, /steward_remediations\{phase="Pending"\} 0/);
    assert.match(metrics, /steward_reconcile_duration_seconds_bucket/);
  });

  it("an apply reaches the running controller within a second", async () => {
    await cli(
      state,
      "apply",
      "-f",
      await writeManifest(state, "second.yaml", etcdDesiredState({ name: "second", members: ["etcd0"] })),
    );
    const ds = await waitFor(
      async () => {
        const current = await getDesiredState(state, "second");
        return current?.status?.lastReconcileTime ? current : undefined;
      },
      5_000,
      "second reconciled",
    );
    // From the moment the store wrote the object to the controller's first reconcile of it.
    const latency = Date.parse(ds.status?.lastReconcileTime ?? "") - Date.parse(ds.metadata.creationTimestamp ?? "");
    console.log(`apply → first reconcile: ${latency} ms`);
    assert.ok(latency < 1_000, `took ${latency} ms`);
    await cli(state, "delete", "ds", "second");
  });
});
