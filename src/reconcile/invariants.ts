import { compare, parseConditionExpr, type CompareOp } from "../api/condition-expr.js";
import type { DesiredStateSpec, InvariantSpec, InvariantState, InvariantStatus } from "../api/desired-state.js";
import { parseDuration } from "../api/duration.js";
import type { QueryResult, Sample } from "../observe/types.js";

/**
 * Invariant evaluation, pure: no I/O, the time is passed in. `evaluateCondition` judges one
 * query result; `nextInvariantStatus` adds the `for` window of Prometheus alerting rules.
 */

export interface Verdict {
  verdict: "holds" | "violated" | "unknown";
  /** A short rendering of the result for status and people: "2", "3 series: 1, 1, 0", "no series". */
  value: string;
  reason: string;
}

const MAX_RENDERED_VALUES = 5;

export function evaluateCondition(spec: InvariantSpec, result: QueryResult): Verdict {
  if (!result.ok) return missingData(spec, "query failed", result.error);
  const condition = parseConditionExpr(spec.condition);
  const samples = result.samples;
  const value = renderValue(samples);
  switch (condition?.kind) {
    case "empty":
      return samples.length === 0
        ? { verdict: "holds", value, reason: "the query returned no series" }
        : { verdict: "violated", value, reason: `the query returned ${seriesCount(samples.length)}, expected none` };
    case "nonEmpty":
      return samples.length > 0
        ? { verdict: "holds", value, reason: `the query returned ${seriesCount(samples.length)}` }
        : { verdict: "violated", value, reason: "the query returned no series, expected at least one" };
    case "compare":
      if (samples.length === 0) return missingData(spec, value, "the query returned no series");
      return compareAll(samples, condition.op, condition.value, value);
    case undefined:
      // The schema rejects such a condition; a status that says so beats a crash.
      return { verdict: "unknown", value, reason: `invalid condition ${JSON.stringify(spec.condition)}` };
  }
}

/**
 * No answer (Prometheus unreachable, or no series for a comparison) is Unknown, never a
 * violation, unless the invariant opts in with `onMissingData: violate`.
 */
function missingData(spec: InvariantSpec, value: string, reason: string): Verdict {
  return spec.onMissingData === "violate"
    ? { verdict: "violated", value, reason: `${reason} (onMissingData: violate)` }
    : { verdict: "unknown", value, reason };
}

function compareAll(samples: readonly Sample[], op: CompareOp, threshold: number, value: string): Verdict {
  // NaN never satisfies a comparison, `!=` included (where IEEE and PromQL would say true):
  // a NaN is a broken measurement, not evidence that the invariant holds.
  const failing = samples.filter((s) => Number.isNaN(s.value) || !compare(op, s.value, threshold));
  const wanted = `${op} ${threshold}`;
  if (failing.length === 0) {
    const subject =
      samples.length === 1 ? `value ${formatNumber(samples[0]?.value ?? 0)}` : `all ${samples.length} series`;
    return {
      verdict: "holds",
      value,
      reason: `${subject} ${samples.length === 1 ? "satisfies" : "satisfy"} ${wanted}`,
    };
  }
  const first = failing[0] as Sample;
  const shown = `${formatSeries(first.labels)}${formatNumber(first.value)}`;
  const reason =
    samples.length === 1
      ? `value ${formatNumber(first.value)} does not satisfy ${wanted}`
      : `${failing.length} of ${samples.length} series do not satisfy ${wanted} (first: ${shown})`;
  return { verdict: "violated", value, reason };
}

function renderValue(samples: readonly Sample[]): string {
  if (samples.length === 0) return "no series";
  if (samples.length === 1) return formatNumber(samples[0]?.value ?? 0);
  const values = samples.slice(0, MAX_RENDERED_VALUES).map((s) => formatNumber(s.value));
  const more = samples.length > MAX_RENDERED_VALUES ? ", …" : "";
  return `${samples.length} series: ${values.join(", ")}${more}`;
}

function seriesCount(n: number): string {
  return n === 1 ? "1 series" : `${n} series`;
}

/** Prometheus's spelling of special values; six significant digits for fractions. */
export function formatNumber(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Number.POSITIVE_INFINITY) return "+Inf";
  if (n === Number.NEGATIVE_INFINITY) return "-Inf";
  if (Number.isInteger(n) || Math.abs(n) >= 1e6) return String(n);
  return String(Number(n.toPrecision(6)));
}

/** `up{job="x"} = ` for a labelled series; nothing for a scalar. */
function formatSeries(labels: Readonly<Record<string, string>>): string {
  const { __name__: name = "", ...rest } = labels;
  const pairs = Object.entries(rest).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  if (name === "" && pairs.length === 0) return "";
  return `${name}{${pairs.join(",")}} = `;
}

/**
 * The next status, with the `for` semantics of a Prometheus alerting rule: a violation is
 * Pending until it has lasted `for` without interruption, then Violated ("for: 0s" is
 * Violated at once); any "holds" resets it. `since` is when the current state began, except
 * that Pending and Violated both keep the time the violation began, so Pending → Violated
 * does not move it.
 *
 * An Unknown (no data) interrupts the window: the next violation starts a new one. We did
 * not see the condition during the gap, so we cannot claim it was violated "continuously";
 * restarting errs toward not acting, matching "Unknown is never a violation". The cost: a
 * flapping Prometheus delays a Violated by up to `for` after it comes back.
 */
export function nextInvariantStatus(
  previous: InvariantStatus | undefined,
  spec: InvariantSpec,
  verdict: Verdict,
  now: Date,
): InvariantStatus {
  // A status left over from a renamed invariant says nothing about this one.
  const prior = previous?.name === spec.name ? previous : undefined;
  let state: InvariantState;
  let since: Date;
  if (verdict.verdict === "violated") {
    since = sinceIfUnchanged(prior, ["Pending", "Violated"]) ?? now;
    state = now.getTime() - since.getTime() >= forMs(spec) ? "Violated" : "Pending";
  } else {
    state = verdict.verdict === "holds" ? "Holding" : "Unknown";
    since = sinceIfUnchanged(prior, [state]) ?? now;
  }
  return {
    name: spec.name,
    state,
    since: since.toISOString(),
    value: verdict.value,
    reason: verdict.reason,
    lastEvaluationTime: now.toISOString(),
  };
}

/** How often a DesiredState's invariants are evaluated: its `interval` (15 s when unreadable, as the default). */
export function evaluationIntervalMs(spec: Pick<DesiredStateSpec, "interval">): number {
  return parseDuration(spec.interval) ?? 15_000;
}

/**
 * For a Pending invariant, the milliseconds until it becomes Violated if the violation
 * goes on, so the reconciler can requeue exactly then; undefined in any other state.
 */
export function nextEvaluationDelay(status: InvariantStatus, spec: InvariantSpec, now: Date): number | undefined {
  if (status.state !== "Pending") return undefined;
  const since = parseTime(status.since) ?? now;
  return Math.max(0, since.getTime() + forMs(spec) - now.getTime());
}

/** The prior `since`, if the prior state is one of `states` (the current episode goes on). */
function sinceIfUnchanged(prior: InvariantStatus | undefined, states: readonly InvariantState[]): Date | undefined {
  return prior && states.includes(prior.state) ? parseTime(prior.since) : undefined;
}

function forMs(spec: InvariantSpec): number {
  return parseDuration(spec.for) ?? 0;
}

/** A stored timestamp; undefined when unreadable, so the caller starts afresh instead of computing with NaN. */
function parseTime(text: string): Date | undefined {
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}
