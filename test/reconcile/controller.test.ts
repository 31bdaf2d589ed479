import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
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

    // While paused, keys wait; nothing is reconciled.
    queue.add("fast/ns/b");
    await sleep(20);
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
    c.start();
    await sleep(20);
    assert.deepEqual(reconciler.seen, []);
    await c.stop();
  });

  it("pause without start, and pause twice, are harmless", async () => {
    const queue = new WorkQueue();
    const c = controller(new RecordingReconciler(), queue);
    await c.pause();
    c.start();
    await c.pause();
    await c.pause();
    await c.stop();
  });
});
