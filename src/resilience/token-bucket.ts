/**
 * A token bucket as a value: `tokens` as of `at` (ms). It holds at most `perMinute` tokens
 * (a minute's worth, the burst) and gains `perMinute` a minute, continuously.
 */
export interface TokenBucket {
  tokens: number;
  at: number;
}

export interface TakeResult {
  bucket: TokenBucket;
  granted: boolean;
  /** When a token will be there, if this take was refused; 0 when granted. */
  retryInMs: number;
}

const MINUTE_MS = 60_000;

/**
 * Refills the bucket up to `now` and takes one token if there is one. Pure. A new bucket
 * (undefined) is full; `perMinute` 0 means no limit. A clock that went backwards refills
 * nothing.
 */
export function takeToken(bucket: TokenBucket | undefined, perMinute: number, now: number): TakeResult {
  if (perMinute <= 0) return { bucket: { tokens: 0, at: now }, granted: true, retryInMs: 0 };
  const elapsed = bucket ? Math.max(0, now - bucket.at) : 0;
  const tokens = bucket ? Math.min(perMinute, bucket.tokens + (elapsed * perMinute) / MINUTE_MS) : perMinute;
  if (tokens >= 1) return { bucket: { tokens: tokens - 1, at: now }, granted: true, retryInMs: 0 };
  return { bucket: { tokens, at: now }, granted: false, retryInMs: Math.ceil(((1 - tokens) * MINUTE_MS) / perMinute) };
}

/**
 * The global limit on remediation openings (`--max-openings-per-minute`), shared by every
 * DesiredState of this process: a drift whose opening is refused waits, and its reconcile
 * comes back when a token is due.
 */
export class OpeningRateLimiter {
  private bucket: TokenBucket | undefined;

  constructor(
    readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  take(): { granted: boolean; retryInMs: number } {
    const result = takeToken(this.bucket, this.perMinute, this.now());
    this.bucket = result.bucket;
    return { granted: result.granted, retryInMs: result.retryInMs };
  }
}
