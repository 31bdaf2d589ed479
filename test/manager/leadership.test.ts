import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LeadershipFence, runWhileLeading } from "../../src/manager/leadership.js";
import { silentLogger } from "../../src/telemetry/logging.js";
import { Controller } from "../../src/reconcile/controller.js";
import { WorkQueue } from "../../src/reconcile/queue.js";
import { DONE } from "../../src/reconcile/reconciler.js";
import { StewardMetrics } from "../../src/telemetry/metrics.js";
import { NotLeaderError } from "../../src/kube/fence.js";
import { waitFor } from "../../scripts/lib/wait.js";

describe("LeadershipFence", () => {
  it("is closed until opened, and closed again by close()", () => {
    const fence = new LeadershipFence();
    assert.throws(
      () => fence.check("writing status of a steward.dev object"),
      (err: unknown) =>
        err instanceof NotLeaderError &&
        /writing status of a steward\.dev object: refused, this replica does not hold the leader lease/.test(
          err.message,
        ),
    );
    fence.open();
    fence.check("start container etcd0");
    fence.close();
    assert.throws(() => fence.check("start container etcd0"), NotLeaderError);
  });

  it("with leader election, open is not enough: the elector must say this replica leads now (by its clock)", () => {
    const fence = new LeadershipFence();
    let leadingNow = true;
    fence.follow(() => leadingNow);
    fence.open();
    fence.check("scaling Deployment/web");
    leadingNow = false; // the renew deadline passed; the timer that declares the loss has not run yet
    assert.throws(() => fence.check("scaling Deployment/web"), NotLeaderError);
  });
});

describe("runWhileLeading without leader election", () => {
  it("acts at once (fence open, steward_leader 1) and stop() closes the fence and stops the controllers", async () => {
    const metrics = new StewardMetrics();
    const fence = new LeadershipFence();
    const queue = new WorkQueue();
    const seen: string[] = [];
    const controller = new Controller({
      name: "desiredstate",
      reconciler: { reconcile: (request) => (seen.push(request.key), Promise.resolve(DONE)) },
      queue,
      logger: silentLogger(),
      metrics,
      workers: 1,
      reconcileTimeoutMs: 1_000,
    });
    const leadership = runWhileLeading([controller], { elector: undefined, metrics, logger: silentLogger(), fence });
    fence.check("anything");
    queue.add("DesiredState/default/a");
    await waitFor(() => seen.length > 0, 2_000, "the controller to reconcile");
    assert.deepEqual(seen, ["DesiredState/default/a"]);
    assert.match(await metrics.registry.getSingleMetricAsString("steward_leader"), /steward_leader 1/);
    await leadership.stop();
    assert.throws(() => fence.check("anything"), NotLeaderError);
    assert.match(await metrics.registry.getSingleMetricAsString("steward_leader"), /steward_leader 0/);
  });
});
