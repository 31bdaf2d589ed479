/**
 * Retry timing, for every retry loop in Steward (ADR 0009): one exponential backoff with
 * full jitter and a cap that honours a server's Retry-After, and one jitter for periodic
 * timers. The loops keep their own attempt counts (a reconnect loop resets its count after
 * a healthy link, the work queue counts per key); this module only says how long to wait.
 */

/** Retry n (0-based) waits a random time up to min(maxMs, baseMs · 2ⁿ), and at least minMs. */
export interface Backoff {
  baseMs: number;
  maxMs: number;
  /** A floor under the jitter, for a peer that must not be asked again at once (default 0). */
  minMs?: number;
}

/**
 * The delay before retry `attempt` (0-based): "full jitter" — uniform between 0 and the
 * capped exponential (Brooker, "Exponential Backoff and Jitter", AWS Architecture Blog,
 * 2015): of the jitter schemes it spreads clients that failed together best, for the least
 * total waiting. A server's Retry-After is honoured up to the cap: the delay is never
 * shorter than `retryAfterMs` (or `minMs`), and never longer than `maxMs` (the longest a
 * loop may go without looking, whatever a server says). Pure, given `random`.
 */
export function backoffDelay(
  attempt: number,
  backoff: Backoff,
  options: { retryAfterMs?: number; random?: () => number } = {},
): number {
  const random = options.random ?? Math.random;
  // 2 ** 1024 is Infinity; past 2 ** 40 every sane base is over the cap anyway.
  const exponential = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(Math.max(attempt, 0), 40));
  const jittered = random() * exponential;
  const floor = Math.max(backoff.minMs ?? 0, options.retryAfterMs ?? 0);
  return Math.round(Math.min(backoff.maxMs, Math.max(jittered, floor)));
}

/**
 * A period stretched by a random part of it, up to `factor` (client-go's JitterUntil):
 * timers of many processes started together drift apart. `jittered(2_000, 1.2)` is
 * between 2 and 4.4 s.
 */
export function jittered(periodMs: number, factor: number, random: () => number = Math.random): number {
  return periodMs * (1 + random() * factor);
}

/**
 * A Retry-After header in milliseconds: delay-seconds ("120") or an HTTP-date; undefined
 * when absent, unparsable, or not in the future.
 */
export function parseRetryAfter(
  value: string | readonly string[] | undefined,
  now: number = Date.now(),
): number | undefined {
  const text = (typeof value === "string" ? value : value?.[0])?.trim();
  if (!text) return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) {
    const ms = Number(text) * 1_000;
    return ms > 0 ? ms : undefined;
  }
  const at = Date.parse(text);
  return Number.isNaN(at) || at <= now ? undefined : at - now;
}
