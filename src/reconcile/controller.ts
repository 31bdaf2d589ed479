import { TerminalError, errorMessage } from "../errors.js";
import type { Logger } from "../telemetry/logging.js";
import type { ControllerLabel, ReconcileResultLabel, StewardMetrics } from "../telemetry/metrics.js";
import type { WorkQueue } from "./queue.js";
import type { Reconciler, ReconcileRequest } from "./reconciler.js";

export interface ControllerOptions {
  /** Its `controller` label on the reconcile metrics. */
  name: ControllerLabel;
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

/** One start()…pause() span: its workers and the signal that ends their reconciles. */
interface Term {
  readonly ended: AbortController;
  readonly workers: Promise<void>[];
}

/**
 * Runs a Reconciler over a work queue with a fixed number of workers. The worker boundary
 * catches everything: a throwing reconciler is an error outcome, never a crashed process.
 *
 * start() and pause() may alternate (a replica that loses its leader lease pauses, and
 * starts again when it leads again): pause() aborts every running reconcile at once and
 * resolves when the workers have returned; keys stay in the queue, and a key whose
 * reconcile was cut short is queued again for the next start(). stop() is final.
 */
export class Controller {
  private term: Term | undefined;
  private reconcileCount = 0;

  constructor(private readonly options: ControllerOptions) {}

  start(): void {
    if (this.term) return;
    const ended = new AbortController();
    const workers: Promise<void>[] = [];
    this.term = { ended, workers };
    for (let i = 0; i < this.options.workers; i++) workers.push(this.work(ended.signal));
  }

  /** Aborts every reconcile of this term at once (synchronously), then waits for the workers to return. */
  async pause(reason: Error = new ShutdownReason("this replica stopped acting")): Promise<void> {
    const term = this.term;
    if (!term) return;
    this.term = undefined;
    term.ended.abort(reason);
    this.options.queue.release();
    await Promise.all(term.workers);
  }

  async stop(): Promise<void> {
    this.options.queue.shutDown();
    await this.pause(new ShutdownReason("Steward is shutting down"));
  }

  private async work(ended: AbortSignal): Promise<void> {
    const { queue } = this.options;
    while (!ended.aborted) {
      const key = await queue.get();
      if (key === undefined) return;
      if (ended.aborted) {
        // Handed out just as the term ended: leave it for the next one.
        queue.add(key);
        queue.done(key);
        return;
      }
      try {
        await this.processKey(key, ended);
      } finally {
        queue.done(key);
        this.options.metrics.queueDepth.set(queue.length);
      }
    }
  }

  private async processKey(key: string, ended: AbortSignal): Promise<void> {
    const { queue, metrics } = this.options;
    const request = parseKey(key);
    const reconcileId = ++this.reconcileCount;
    const logger = this.options.logger.child({ key, reconcileId });
    const deadline = AbortSignal.timeout(this.options.reconcileTimeoutMs);
    const signal = AbortSignal.any([deadline, ended]);
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
      if (ended.aborted) {
        // Cut short by pause() or stop(): reconciled again next term (a no-op once the queue is shut down).
        queue.add(key);
        return;
      }
      label = this.handleError(key, err, logger, deadline.aborted);
    } finally {
      stopTimer();
    }
    metrics.reconcileTotal.inc({ controller: this.options.name, result: label });
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
    logger.warn("reconcile failed; retrying with backoff", {
      error: reason,
      retryInMs,
      attempt: queue.numRequeues(key),
    });
    return "error";
  }
}

/** `Kind/namespace/name` → request. */
export function parseKey(key: string): ReconcileRequest {
  const [, namespace = "default", name = ""] = key.split("/");
  return { key, namespace, name };
}
