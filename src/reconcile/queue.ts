import { backoffDelay, type Backoff } from "../resilience/backoff.js";
import type { QueueHooks } from "../telemetry/metrics.js";

/** A failing key is retried after up to 100 ms, doubling per consecutive failure, up to a minute. */
export const DEFAULT_BACKOFF: Backoff = { baseMs: 100, maxMs: 60_000 };

/**
 * A de-duplicating, rate-limited work queue of keys, with client-go workqueue semantics:
 * - a key waiting in the queue is held once, however often it is added;
 * - a key is never handed to two workers at once; one added while it is being processed
 *   is queued again when `done` is called, so the latest state is always reconciled;
 * - `addRateLimited` delays a key exponentially per consecutive failure (capped, full
 *   jitter: resilience/backoff.ts), `forget` resets that count after a success.
 * Keys are names of objects (`Kind/namespace/name`), never events: a reconcile re-reads
 * the current state. Like client-go's, it counts adds, retries and how long keys wait
 * (`hooks`), and tells how long its longest-running key has been processed.
 */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  /** When each dirty key was added, and when each key in processing was handed out (epoch ms). */
  private readonly addedAt = new Map<string, number>();
  private readonly startedAt = new Map<string, number>();
  private shuttingDown = false;

  constructor(
    private readonly backoff: Backoff = DEFAULT_BACKOFF,
    private readonly hooks?: QueueHooks,
  ) {}

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.addedAt.set(key, Date.now());
    this.hooks?.added();
    if (this.processing.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) this.handOut(key, waiter);
    else this.queue.push(key);
  }

  /** Adds the key after `ms`; an earlier pending add for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    this.timers.set(key, { at, timer });
  }

  addRateLimited(key: string): number {
    this.hooks?.retried();
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = backoffDelay(n, this.backoff);
    this.addAfter(key, delay);
    return delay;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key, or undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.markProcessing(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    this.startedAt.delete(key);
    if (!this.dirty.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) this.handOut(key, waiter);
    else this.queue.push(key);
  }

  get length(): number {
    return this.queue.length;
  }

  /** How long the key processed longest has been processed so far, in ms; 0 when none is. */
  longestRunningMs(now = Date.now()): number {
    let oldest = now;
    for (const started of this.startedAt.values()) oldest = Math.min(oldest, started);
    return now - oldest;
  }

  /**
   * Hands `undefined` to every worker waiting in get(), as shutDown() does, but keeps the
   * queue open: keys and timers stay, for workers that call get() later (a controller paused
   * while its replica does not lead, then started again).
   */
  release(): void {
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  private handOut(key: string, waiter: (key: string) => void): void {
    this.markProcessing(key);
    waiter(key);
  }

  private markProcessing(key: string): void {
    const now = Date.now();
    this.dirty.delete(key);
    this.processing.add(key);
    this.startedAt.set(key, now);
    this.hooks?.waited((now - (this.addedAt.get(key) ?? now)) / 1000);
    this.addedAt.delete(key);
  }
}
