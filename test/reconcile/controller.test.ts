import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { waitFor } from "../../scripts/lib/wait.js";
import { silentLogger } from "../../src/telemetry/logging.js";
import { Controller } from "../../src/reconcile/controller.js";
import { WorkQueue } from "../../src/reconcile/queue.js";
import {
  DONE,
  type ReconcileContext,
  type Reconciler,
  type ReconcileRequest,
  type ReconcileResult,
} from "../../src/reconcile/reconciler.js";
import { StewardMetrics } from "../../src/telemetry/metrics.js";

/** Records every reconcile; a key named "slow/…" runs until its signal fires. */
class RecordingReconciler implements Reconciler {
  readonly seen: { key: string; aborted: boolean }[] = [];
  readonly running = new Set<string>();

  async reconcile(request: ReconcileRequest, context: ReconcileContext): Promise<ReconcileResult> {
    this.running.add(request.key);
    try {
      if (request.key.startsWith("slow/")) {
        await new Promise<void>((resolve) => context.signal.addEventListener("abort", () => resolve(), { once: true }));
        this.seen.push({ key: request.key, aborted: true });
        throw new Error("aborted");
      }
      this.seen.push({ key: request.key, aborted: false });
      return DONE;
    } finally {
      this.running.delete(request.key);
    }
  }
}

function controller(reconciler: Reconciler, queue: WorkQueue): Controller {
  return new Controller({
    name: "desiredstate",
    reconciler,
    queue,
    logger: silentLogger(),
    metrics: new StewardMetrics(),
    workers: 2,
    reconcileTimeoutMs: 60_000,
  });
}

describe("Controller: pause and start again (a replica that loses, then regains, its lease)", () => {
  it("pause aborts running reconciles at once, resolves when the workers returned, and keeps the keys for the next start", async () => {
    const queue = new WorkQueue();
    const reconciler = new RecordingReconciler();
    const c = controller(reconciler, queue);
    c.start();
    queue.add("slow/ns/a");
    await waitFor(() => reconciler.running.has("slow/ns/a"), 2_000, "the slow reconcile to run");
    await c.pause();
    assert.equal(reconciler.running.size, 0, "nothing runs once pause() resolved");
    assert.deepEqual(reconciler.seen, [{ key: "slow/ns/a", aborted: true }]);

    // While paused, keys wait in the queue: no worker is there to take them (a waiting one would, at once).
    queue.add("fast/ns/b");
    assert.equal(queue.length, 2, "the key cut short and the new one wait in the queue");
    assert.equal(reconciler.seen.length, 1);

    // Started again: the key cut short and the one that arrived meanwhile both run.
    c.start();
    await waitFor(() => reconciler.seen.some((s) => s.key === "fast/ns/b"), 2_000, "the waiting key after start");
    await waitFor(() => reconciler.running.has("slow/ns/a"), 2_000, "the aborted key reconciled again");
    await c.stop();
    assert.equal(reconciler.running.size, 0);
    assert.equal(reconciler.seen.filter((s) => s.key === "slow/ns/a").length, 2);
  });

  it("stop is final: keys added afterwards are dropped, start does not revive a shut-down queue", async () => {
    const queue = new WorkQueue();
    const reconciler = new RecordingReconciler();
    const c = controller(reconciler, queue);
    c.start();
    await c.stop();
    queue.add("fast/ns/a");
    assert.equal(queue.length, 0, "the key was dropped");
    c.start();
    // stop() resolves once the new workers have returned: any key they were handed is reconciled by then.
    await c.stop();
    assert.deepEqual(reconciler.seen, []);
  });

  it("pause without start, and pause twice, are harmless: the controller still reconciles when started", async () => {
    const queue = new WorkQueue();
    const reconciler = new RecordingReconciler();
    const c = controller(reconciler, queue);
    await c.pause();
    c.start();
    queue.add("fast/ns/a");
    await waitFor(() => reconciler.seen.length === 1, 2_000, "a reconcile after a pause without start");
    await c.pause();
    await c.pause();
    queue.add("fast/ns/b");
    assert.equal(queue.length, 1, "paused: the key waits");
    c.start();
    await waitFor(() => reconciler.seen.length === 2, 2_000, "a reconcile after pausing twice");
    await c.stop();
    assert.deepEqual(
      reconciler.seen.map((s) => s.key),
      ["fast/ns/a", "fast/ns/b"],
    );
  });

  it("counts each reconcile under its controller's name and shows the keys waiting in its queue", async () => {
    const metrics = new StewardMetrics();
    const queue = new WorkQueue();
    const reconciler = new RecordingReconciler();
    const c = new Controller({
      name: "remediation",
      reconciler,
      queue,
      logger: silentLogger(),
      metrics,
      workers: 1,
      reconcileTimeoutMs: 60_000,
    });
    c.start();
    queue.add("slow/ns/a");
    await waitFor(() => reconciler.running.has("slow/ns/a"), 2_000, "the slow reconcile to run");
    queue.add("fast/ns/b");
    queue.add("fast/ns/c");
    const depth = await metrics.registry.getSingleMetricAsString("steward_workqueue_depth");
    assert.match(depth, /steward_workqueue_depth\{controller="remediation"\} 2/);
    assert.match(depth, /steward_workqueue_depth\{controller="desiredstate"\} 0/);
    await c.pause();
    c.start();
    await waitFor(() => reconciler.seen.filter((s) => !s.aborted).length === 2, 2_000, "both fast keys reconciled");
    await c.stop();
    // The slow one, cut short twice (pause, stop), is no result: it is reconciled again next term.
    const total = await metrics.registry.getSingleMetricAsString("steward_reconcile_total");
    assert.match(total, /steward_reconcile_total\{controller="remediation",result="success"\} 2/);
    assert.match(total, /steward_reconcile_total\{controller="desiredstate",result="success"\} 0/);
  });
});
