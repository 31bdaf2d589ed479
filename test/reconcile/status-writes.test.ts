import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/telemetry/logging.js";
import { DesiredStateReconciler } from "../../src/reconcile/desired-state-reconciler.js";
import { DONE, requeueAfter, type ReconcileResult } from "../../src/reconcile/reconciler.js";
import { StewardMetrics } from "../../src/telemetry/metrics.js";
import { FileStore } from "../../src/store/file/file-store.js";
import { desiredState } from "../store/contract.js";
import { container, dockerShowing } from "./fixtures.js";

describe("status writes: only when the status changed", () => {
  it("regression: an unchanged system is not rewritten on every reconcile (an absent field compared unequal to an undefined one)", async () => {
    const store = new FileStore(await mkdtemp(join(tmpdir(), "steward-writes-")));
    await store.apply(desiredState("quiet"));
    let writes = 0;
    const updateStatus = store.updateStatus.bind(store);
    store.updateStatus = ((...args: Parameters<typeof updateStatus>) => {
      writes++;
      return updateStatus(...args);
    }) as typeof store.updateStatus;
    let running = true;
    const reconciler = new DesiredStateReconciler({
      store,
      observers: {
        docker: dockerShowing(() => [
          container("etcd0", running ? {} : { state: "exited", exitCode: 1, health: "none" }),
        ]),
      },
      metrics: new StewardMetrics(),
      agent: { modelConfigured: false },
    });
    const reconcile = (): Promise<unknown> =>
      reconciler.reconcile(
        { key: "DesiredState/default/quiet", namespace: "default", name: "quiet" },
        { signal: new AbortController().signal, logger: silentLogger() },
      );

    await reconcile();
    assert.equal(writes, 1, "the first reconcile writes the first status");
    await reconcile();
    await reconcile();
    assert.equal(writes, 1, "nothing changed, nothing written: no heartbeat either");

    running = false;
    await reconcile();
    assert.ok(writes >= 2, "a change is written");
  });
});

describe("requeue: with an evaluator that enqueues on changed results, a converged DesiredState waits for a change", () => {
  async function reconcilerWith(
    running: () => boolean,
    evaluatorEnqueues: boolean,
  ): Promise<() => Promise<ReconcileResult>> {
    const store = new FileStore(await mkdtemp(join(tmpdir(), "steward-requeue-")));
    await store.apply(desiredState("quiet"));
    const reconciler = new DesiredStateReconciler({
      store,
      observers: {
        docker: dockerShowing(() => [
          container("etcd0", running() ? {} : { state: "exited", exitCode: 1, health: "none" }),
        ]),
      },
      metrics: new StewardMetrics(),
      agent: { modelConfigured: false },
      evaluatorEnqueues,
    });
    return () =>
      reconciler.reconcile(
        { key: "DesiredState/default/quiet", namespace: "default", name: "quiet" },
        { signal: new AbortController().signal, logger: silentLogger() },
      );
  }

  it("no drift: done, no timer per object (before: requeued every interval whatever happened)", async () => {
    const reconcile = await reconcilerWith(() => true, true);
    assert.deepEqual(await reconcile(), DONE);
    const periodic = await reconcilerWith(() => true, false);
    assert.deepEqual(await periodic(), requeueAfter(15_000), "without an evaluator the invariants need the interval");
  });

  it("drift (a stopped container) is looked at again within the interval", async () => {
    const reconcile = await reconcilerWith(() => false, true);
    const result = await reconcile();
    assert.equal(result.type, "requeueAfter", "drift is looked at again with time (budgets, cooldowns)");
  });
});
