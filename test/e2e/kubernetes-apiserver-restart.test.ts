import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { containerState, docker, ensureCluster } from "../../scripts/lib/cluster.js";
import { waitFor } from "../../scripts/lib/wait.js";
import { restartApiServer } from "../support/control-plane.js";
import { etcdDesiredState, writeManifest } from "../support/desired-states.js";
import { emptyNamespace } from "../support/kube.js";
import { kubectl } from "../support/kubectl.js";
import { metric } from "../support/metrics.js";
import { StewardProcess, tempStateDir } from "../support/steward.js";
import { randomBytes } from "node:crypto";

async function ready(name: string): Promise<boolean> {
  return new RegExp(`^${name}\\s+True\\s`, "m").test((await kubectl("get", "desiredstates")).stdout);
}

describe("steward run --store kubernetes across a kube-apiserver restart", () => {
  let state: string;
  let steward: StewardProcess;

  before(async () => {
    await emptyNamespace();
    await ensureCluster();
    state = await tempStateDir();
    // Without leader election: this test is about the informers (the next one about the Lease).
    steward = new StewardProcess(state, ["--watch-namespace", "default"], {
      STEWARD_STORE: "kubernetes",
      STEWARD_LEADER_ELECT: "false",
    });
    await steward.start();
  });

  after(async () => {
    assert.equal(await steward.stop(), 0);
    await ensureCluster();
  });

  it("sees a DesiredState applied after the restart, and still fixes a stopped member", async () => {
    const before = etcdDesiredState({ name: "etcd", members: ["etcd0", "etcd1"] });
    assert.equal((await kubectl("apply", "-f", await writeManifest(state, "before.yaml", before))).code, 0);
    await waitFor(() => ready("etcd"), 30_000, "etcd Ready before the restart");

    await restartApiServer();
    // Known to Steward only through its watch: a new object is never picked up by a requeue.
    const late = etcdDesiredState({ name: "etcd-late", members: ["etcd2"] });
    const applied = await kubectl("apply", "-f", await writeManifest(state, "late.yaml", late));
    assert.equal(applied.code, 0, applied.stderr);
    await waitFor(() => ready("etcd-late"), 60_000, "etcd-late, applied after the restart, Ready");

    await docker("stop", "-t", "1", "etcd1");
    await waitFor(async () => (await containerState("etcd1")) === "running", 20_000, "etcd1 started again");
    await waitFor(
      async () => {
        const out = (await kubectl("get", "desiredstate", "etcd", "-o", "jsonpath={.status.fixes[*].subject}")).stdout;
        return out.includes("container/etcd1");
      },
      20_000,
      "the fix in the status after the restart",
    );

    await waitFor(
      async () => (await metric(steward, "steward_observer_connected", '{observer="store"}')) === 1,
      30_000,
      "the store reported connected on /metrics",
    );
    const interrupted = (await metric(steward, "steward_store_watch_restarts_total", '{reason="failed"}')) ?? 0;
    assert.ok(interrupted > 0, 'the restart shows in steward_store_watch_restarts_total{reason="failed"}');
  });
});

describe("steward run --store kubernetes with leader election through a kube-apiserver outage longer than the lease", () => {
  const lease = `steward-outage-${randomBytes(3).toString("hex")}`;
  let state: string;
  let steward: StewardProcess;

  before(async () => {
    await emptyNamespace();
    await ensureCluster();
    state = await tempStateDir();
    steward = new StewardProcess(
      state,
      ["--watch-namespace", "default", "--lease-name", lease, "--lease-namespace", "default"],
      { STEWARD_STORE: "kubernetes" },
    );
    await steward.start();
  });

  after(async () => {
    assert.equal(await steward.stop(), 0);
    await kubectl("delete", "lease", lease, "--wait=false");
    await ensureCluster();
  });

  it("stops acting when it cannot renew, stays up, leads again when the API server is back, and fixes a stopped member", async (t) => {
    const manifest = etcdDesiredState({ name: "etcd", members: ["etcd0", "etcd1", "etcd2"] });
    assert.equal((await kubectl("apply", "-f", await writeManifest(state, "etcd.yaml", manifest))).code, 0);
    await waitFor(async () => (await metric(steward, "steward_leader")) === 1, 20_000, "Steward to lead");
    await waitFor(() => ready("etcd"), 30_000, "etcd Ready before the outage");

    // Down for 20 s: past the renew deadline (10 s) and the lease (15 s).
    const downAt = Date.now();
    const restarted = restartApiServer(20);
    await waitFor(
      async () => (await metric(steward, "steward_leadership_lost_total")) === 1,
      20_000,
      "Steward to give up the lease",
    );
    t.diagnostic(`stopped acting ${Date.now() - downAt} ms into the outage`);
    assert.equal(await metric(steward, "steward_leader"), 0);
    assert.equal((await fetch(`http://${steward.metricsAddress}/healthz`)).status, 200, "it keeps running");
    await restarted;
    const backAt = Date.now();

    await waitFor(async () => (await metric(steward, "steward_leader")) === 1, 60_000, "Steward to lead again");
    t.diagnostic(`led again ${Date.now() - backAt} ms after the API server answered again`);
    assert.equal(await metric(steward, "steward_leadership_lost_total"), 1);

    await docker("stop", "-t", "1", "etcd2");
    const stoppedAt = Date.now();
    await waitFor(async () => (await containerState("etcd2")) === "running", 20_000, "etcd2 started again");
    t.diagnostic(`etcd2 started ${Date.now() - stoppedAt} ms after it was stopped`);
    await waitFor(
      async () =>
        (await kubectl("get", "desiredstate", "etcd", "-o", "jsonpath={.status.fixes[*].subject}")).stdout.includes(
          "container/etcd2",
        ),
      20_000,
      "the fix in the status",
    );
    await waitFor(() => ready("etcd"), 30_000, "etcd Ready after the outage");
  });
});
