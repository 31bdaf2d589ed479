import { TerminalError, errorMessage } from "../errors.js";
import type { Logger } from "../logging.js";
import type { ReconcileResultLabel, StewardMetrics } from "../server/metrics.js";
import type { WorkQueue } from "./queue.js";
import type { Reconciler, ReconcileRequest } from "./reconciler.js";

export interface ControllerOptions {
  reconciler: Reconciler;
  queue: WorkQueue;
  logger: Logger;
  metrics: StewardMetrics;
  workers: number;
  /** A reconcile running longer than this is aborted (reason "deadline") and retried. */
  reconcileTimeoutMs: number;
}

class ShutdownReason extends Error {
  override readonly name = "Shutdown";
}

/**
 * Runs a Reconciler over a work queue with a fixed number of workers. The worker boundary
 * catches everything: a throwing reconciler is an error outcome, never a crashed process.
 */
export class Controller {
  private readonly shutdown = new AbortController();
  private workers: Promise<void>[] = [];
  private reconcileCount = 0;

  constructor(private readonly options: ControllerOptions) {}

  start(): void {
    this.workers = Array.from({ length: this.options.workers }, () => this.work());
  }

  async stop(): Promise<void> {
    this.options.queue.shutDown();
    this.shutdown.abort(new ShutdownReason("Steward is shutting down"));
    await Promise.all(this.workers);
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.options.queue.get();
      if (key === undefined) return;
      try {
        await this.processKey(key);
      } finally {
        this.options.queue.done(key);
        this.options.metrics.queueDepth.set(this.options.queue.length);
      }
    }
  }

  private async processKey(key: string): Promise<void> {
    const { queue, metrics } = this.options;
    const request = parseKey(key);
    const reconcileId = ++this.reconcileCount;
    const logger = this.options.logger.child({ key, reconcileId });
    const deadline = AbortSignal.timeout(this.options.reconcileTimeoutMs);
    const signal = AbortSignal.any([deadline, this.shutdown.signal]);
    const stopTimer = metrics.reconcileDuration.startTimer();
    let label: ReconcileResultLabel;
    try {
      const result = await this.options.reconciler.reconcile(request, { signal, logger });
      queue.forget(key);
      switch (result.type) {
        case "done":
          label = "success";
          break;
        case "requeueAfter":
          label = "requeue_after";
          queue.addAfter(key, result.ms);
          break;
      }
    } catch (err) {
      if (this.shutdown.signal.aborted) return;
      label = this.handleError(key, err, logger, deadline.aborted);
    } finally {
      stopTimer();
    }
    metrics.reconcileTotal.inc({ result: label });
  }

  private handleError(key: string, err: unknown, logger: Logger, timedOut: boolean): ReconcileResultLabel {
    const { queue, metrics } = this.options;
    metrics.reconcileErrors.inc();
    if (err instanceof TerminalError) {
      queue.forget(key);
      logger.error("reconcile failed terminally; not retrying until the object changes", { error: err.message });
      return "terminal";
    }
    const retryInMs = queue.addRateLimited(key);
    const reason = timedOut ? `deadline of ${this.options.reconcileTimeoutMs} ms exceeded` : errorMessage(err);
    logger.warn("reconcile failed; retrying with backoff", { error: reason, retryInMs, attempt: queue.numRequeues(key) });
    return "error";
  }
}

/** `Kind/namespace/name` → request. */
export function parseKey(key: string): ReconcileRequest {
  const [, namespace = "default", name = ""] = key.split("/");
  return { key, namespace, name };
}
