/**
 * Summaries of latency samples. Pure, so the report's numbers are unit-tested
 * (test/bench/stats.test.ts). Percentiles use the nearest-rank method: p50 of an odd count
 * is the middle sample, and every reported value is one that was measured.
 */

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile (0 < p ≤ 100); NaN for no samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

export function summarize(samples: readonly number[]): Summary {
  const finite = samples.filter((s) => Number.isFinite(s));
  const mean = finite.length === 0 ? Number.NaN : finite.reduce((a, b) => a + b, 0) / finite.length;
  return {
    n: finite.length,
    p50: percentile(finite, 50),
    p90: percentile(finite, 90),
    p99: percentile(finite, 99),
    min: finite.length === 0 ? Number.NaN : Math.min(...finite),
    max: finite.length === 0 ? Number.NaN : Math.max(...finite),
    mean,
  };
}

/** `a / b`, or NaN when either side is missing or b is zero: a ratio is never invented. */
export function ratio(a: number, b: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return Number.NaN;
  return a / b;
}

/**
 * Estimates a percentile from Prometheus histogram buckets (cumulative counts by upper
 * bound, as prom-client exports them), interpolating linearly inside the bucket, as
 * PromQL's histogram_quantile does. NaN without observations.
 */
export function histogramQuantile(q: number, buckets: readonly { le: number; count: number }[]): number {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total === 0) return Number.NaN;
  const target = q * total;
  let lower = 0;
  let below = 0;
  for (const bucket of sorted) {
    if (bucket.count >= target) {
      if (!Number.isFinite(bucket.le)) return lower;
      const inBucket = bucket.count - below;
      return inBucket === 0 ? bucket.le : lower + ((bucket.le - lower) * (target - below)) / inBucket;
    }
    lower = bucket.le;
    below = bucket.count;
  }
  return lower;
}

/**
 * Bucket counts of `name` from a Prometheus text exposition; `+Inf` becomes Infinity. With
 * `label` (`controller="desiredstate"`), only the buckets of the series carrying it.
 */
export function parseHistogram(text: string, name: string, label = ""): { le: number; count: number }[] {
  const pattern = new RegExp(`^${name}_bucket\\{(?:[^}]*,)?le="([^"]+)"[^}]*\\} (\\S+)$`, "gm");
  const buckets: { le: number; count: number }[] = [];
  for (const match of text.matchAll(pattern)) {
    if (label && !match[0].includes(label)) continue;
    buckets.push({ le: match[1] === "+Inf" ? Number.POSITIVE_INFINITY : Number(match[1]), count: Number(match[2]) });
  }
  return buckets;
}

/** The value of an unlabelled (or first matching) sample of `name` in a text exposition. */
export function metricValue(text: string, name: string, labels = ""): number {
  const escaped = labels.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = new RegExp(`^${name}${labels ? `\\{${escaped}\\}` : "(?:\\{[^}]*\\})?"} (\\S+)$`, "m");
  const match = pattern.exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

/** Subtracts bucket counts of two scrapes of the same histogram: observations in between. */
export function bucketDelta(
  after: readonly { le: number; count: number }[],
  before: readonly { le: number; count: number }[],
): { le: number; count: number }[] {
  return after.map((b) => ({ le: b.le, count: b.count - (before.find((x) => x.le === b.le)?.count ?? 0) }));
}

/** Least-squares line y = intercept + slope · x; NaN for fewer than two distinct x. */
export function linearFit(points: readonly { x: number; y: number }[]): { slope: number; intercept: number } {
  const finite = points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const n = finite.length;
  const mx = finite.reduce((s, p) => s + p.x, 0) / n;
  const my = finite.reduce((s, p) => s + p.y, 0) / n;
  const sxx = finite.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  if (n < 2 || sxx === 0) return { slope: Number.NaN, intercept: Number.NaN };
  const slope = finite.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
  return { slope, intercept: my - slope * mx };
}
