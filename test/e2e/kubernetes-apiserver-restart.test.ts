import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { containerState, docker, ensureCluster } from "../../scripts/lib/cluster.js";
import { waitFor } from "../../scripts/lib/wait.js";
import { restartApiServer } from "../support/control-plane.js";
import { etcdDesiredState, writeManifest } from "../support/desired-states.js";
import { emptyNamespace } from "../support/kube.js";
import { kubectl } from "../support/kubectl.js";
import { StewardProcess, tempStateDir } from "../support/steward.js";

async function metric(steward: StewardProcess, series: string): Promise<number | undefined> {
  const text = await (await fetch(`http://${steward.metricsAddress}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

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
    // Without leader election: a leader that cannot renew its lease for 10 s exits by design,
    // and a restart on a loaded machine can take longer. This test is about the informers.
    steward = new StewardProcess(state, ["--watch-namespace", "default"], { STEWARD_STORE: "kubernetes", STEWARD_LEADER_ELECT: "false" });
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
    await waitFor(async () => {
      const out = (await kubectl("get", "desiredstate", "etcd", "-o", "jsonpath={.status.fixes[*].subject}")).stdout;
      return out.includes("container/etcd1");
    }, 20_000, "the fix in the status after the restart");

    await waitFor(async () => (await metric(steward, 'steward_observer_connected{observer="store"}')) === 1, 30_000, "the store reported connected on /metrics");
    const interrupted = (await metric(steward, 'steward_store_watch_restarts_total{reason="failed"}')) ?? 0;
    assert.ok(interrupted > 0, "the restart shows in steward_store_watch_restarts_total{reason=\"failed\"}");
  });
});
