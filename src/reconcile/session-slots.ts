import { Semaphore, type Release } from "../resilience/limiter.js";

/**
 * At most `limit` agent sessions at once, without a controller worker held while a
 * remediation waits for one: a reconcile that finds every slot taken records its key and
 * returns (the remediation stays Pending); when a slot frees, the key that has waited
 * longest is enqueued again (`wake`). So the remediation controller can have more workers
 * than sessions, and its status work (closing a remediation whose drift cleared, saying
 * why one waits) never queues behind sessions that run for minutes.
 *
 * Contract: the reconciler calls `settled(key)` when each reconcile of `key` ends. A woken
 * key that neither took a slot nor waited again (its remediation closed meanwhile) passes
 * the wake on, so a free slot is never left while keys wait.
 */
export class SessionSlots {
  private readonly semaphore: Semaphore;
  /** Keys waiting for a slot, oldest first. */
  private readonly waiting = new Set<string>();
  /** Keys enqueued by a freed slot whose reconcile has not yet run to its end. */
  private readonly woken = new Set<string>();

  constructor(
    limit: number,
    private readonly wake: (key: string) => void,
  ) {
    this.semaphore = new Semaphore(limit);
  }

  /** Sessions running now. */
  get inUse(): number {
    return this.semaphore.inFlight;
  }

  /** A slot for `key`'s session, or undefined: it then waits, and is woken when one frees. */
  tryTake(key: string): Release | undefined {
    this.woken.delete(key);
    const release = this.semaphore.tryAcquire();
    if (!release) {
      this.waiting.add(key);
      return undefined;
    }
    this.waiting.delete(key);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
      this.wakeNext();
    };
  }

  /** The reconcile of `key` ended. */
  settled(key: string): void {
    if (!this.woken.delete(key)) return;
    this.wakeNext();
  }

  /** Wakes the longest waiting key if a slot is free that no woken key has a claim on yet. */
  private wakeNext(): void {
    if (this.semaphore.inFlight + this.woken.size >= this.semaphore.limit) return;
    const [next] = this.waiting;
    if (next === undefined) return;
    this.waiting.delete(next);
    this.woken.add(next);
    this.wake(next);
  }
}
