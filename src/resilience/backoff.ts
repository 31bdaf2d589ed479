/** Retry delays. */

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/**
 * Reconnect delays: 250 ms doubling to 5 s. The daemon is local, so retrying is cheap,
 * and a restarted daemon (a few seconds) should be seen again within about one cap.
 */
export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 5_000 };

/** ±20 %: enough to spread many observers reconnecting to one restarted daemon. */
export const BACKOFF_JITTER_RATIO = 0.2;

/** The delay before retry number `failures` (0-based), capped and jittered. */
export function backoffDelay(failures: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponent = Math.min(failures, 30);
  const base = Math.min(options.maxMs, options.initialMs * 2 ** exponent);
  const jitter = base * BACKOFF_JITTER_RATIO * (random() * 2 - 1);
  return Math.max(0, Math.round(Math.min(options.maxMs, base + jitter)));
}
