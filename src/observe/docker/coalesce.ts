/**
 * Per-key serialisation with coalescing, as client-go's workqueue does for one key: a key
 * never runs twice at once, and requests made while it runs collapse into one more run
 * afterwards (the running task may have read the state before the latest change).
 */

interface Run {
  scope: AbortSignal;
  again: boolean;
  done: Promise<void>;
}

export class CoalescingRunner {
  private readonly runs = new Map<string, Run>();

  /**
   * `task` should handle its own errors; one that escapes stops that key's run and goes
   * to `onError`.
   */
  constructor(
    private readonly task: (key: string, scope: AbortSignal) => Promise<void>,
    private readonly onError: (key: string, err: unknown) => void,
  ) {}

  /**
   * Runs `key` now, or once more after its current run. A run belongs to `scope`: a
   * request under a new scope does not piggyback on a run whose scope is aborted.
   */
  request(key: string, scope: AbortSignal): void {
    const current = this.runs.get(key);
    if (current && current.scope === scope && !scope.aborted) {
      current.again = true;
      return;
    }
    const run: Run = { scope, again: true, done: Promise.resolve() };
    run.done = this.loop(key, run).finally(() => {
      if (this.runs.get(key) === run) this.runs.delete(key);
    });
    this.runs.set(key, run);
  }

  /** Resolves once every run has finished. */
  async idle(): Promise<void> {
    await Promise.all([...this.runs.values()].map((run) => run.done));
  }

  private async loop(key: string, run: Run): Promise<void> {
    try {
      while (run.again && !run.scope.aborted) {
        run.again = false;
        await this.task(key, run.scope);
      }
    } catch (err) {
      this.onError(key, err);
    }
  }
}
