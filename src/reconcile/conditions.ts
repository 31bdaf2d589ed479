import type { Drift, InvariantStatus } from "../api/desired-state.js";
import type { Condition } from "../api/meta.js";

export type ConditionInput = Omit<Condition, "lastTransitionTime">;

/**
 * Puts a condition into a list keyed by type. `lastTransitionTime` changes only when the
 * status changes, as in Kubernetes, so it says how long a condition has been true.
 */
export function setCondition(conditions: readonly Condition[], next: ConditionInput, now: Date): Condition[] {
  const existing = conditions.find((c) => c.type === next.type);
  const lastTransitionTime =
    existing && existing.status === next.status ? existing.lastTransitionTime : now.toISOString();
  const updated: Condition = { ...next, lastTransitionTime };
  return existing ? conditions.map((c) => (c.type === next.type ? updated : c)) : [...conditions, updated];
}

/** Why the observation is incomplete; undefined means everything could be observed. */
export interface Degradation {
  reason: "DockerUnavailable" | "KubernetesUnavailable" | "PrometheusUnavailable" | "AlertsUnavailable";
  message: string;
}

/** Remediations this reconcile could not open: the global rate limit had no token left. */
export interface DeferredOpenings {
  subjects: string[];
  perMinute: number;
  retryInMs: number;
  /** When the next token is due (ISO 8601, whole seconds), so the message is stable while waiting. */
  at: string;
}

export interface DesiredStateConditionInput {
  generation: number;
  drift: readonly Drift[];
  invariants: readonly InvariantStatus[];
  activeRemediation: string | undefined;
  degradations: readonly Degradation[];
  deferredOpenings?: DeferredOpenings;
}

/** The DesiredState's Ready, Drifted, Remediating and Degraded conditions. Pure. */
export function desiredStateConditions(input: DesiredStateConditionInput): ConditionInput[] {
  const observedGeneration = input.generation;
  const unknown = input.invariants.filter((i) => i.state === "Unknown");
  const pending = input.invariants.filter((i) => i.state === "Pending");
  const degraded = input.degradations.length > 0;
  return [
    readyCondition(input, unknown, pending, observedGeneration),
    input.drift.length > 0
      ? {
          type: "Drifted",
          status: "True",
          reason: "DriftDetected",
          message: describeDrift(input.drift),
          observedGeneration,
        }
      : { type: "Drifted", status: "False", reason: "NoDrift", message: "no drift observed", observedGeneration },
    remediatingCondition(input, observedGeneration),
    degraded
      ? {
          type: "Degraded",
          status: "True",
          reason: input.degradations[0]?.reason ?? "Degraded",
          message: input.degradations.map((d) => d.message).join("; "),
          observedGeneration,
        }
      : {
          type: "Degraded",
          status: "False",
          reason: "AllObserved",
          message: "every source could be observed",
          observedGeneration,
        },
  ];
}

function remediatingCondition(input: DesiredStateConditionInput, observedGeneration: number): ConditionInput {
  const deferred = input.deferredOpenings;
  const waits = deferred
    ? `a remediation for ${deferred.subjects.join(", ")} waits: at most ${deferred.perMinute} remediations are opened a minute (--max-openings-per-minute); next try at ${deferred.at}`
    : undefined;
  if (input.activeRemediation) {
    const message = `AgentRemediation ${input.activeRemediation} is open${waits ? `; ${waits}` : ""}`;
    return { type: "Remediating", status: "True", reason: "RemediationOpen", message, observedGeneration };
  }
  if (waits) return { type: "Remediating", status: "False", reason: "RateLimited", message: waits, observedGeneration };
  return {
    type: "Remediating",
    status: "False",
    reason: "NoRemediation",
    message: "no open remediation",
    observedGeneration,
  };
}

function readyCondition(
  input: DesiredStateConditionInput,
  unknown: readonly InvariantStatus[],
  pending: readonly InvariantStatus[],
  observedGeneration: number,
): ConditionInput {
  if (input.drift.length > 0) {
    return {
      type: "Ready",
      status: "False",
      reason: "Drifted",
      message: describeDrift(input.drift),
      observedGeneration,
    };
  }
  const degradation = input.degradations[0];
  if (degradation) {
    return {
      type: "Ready",
      status: "Unknown",
      reason: degradation.reason,
      message: degradation.message,
      observedGeneration,
    };
  }
  if (unknown.length > 0) {
    const message = unknown.map((i) => `invariant ${i.name} is Unknown: ${i.reason ?? "no data"}`).join("; ");
    return { type: "Ready", status: "Unknown", reason: "InvariantUnknown", message, observedGeneration };
  }
  if (pending.length > 0) {
    const message = pending
      .map((i) => `invariant ${i.name} violated since ${i.since} (within its for: window)`)
      .join("; ");
    return { type: "Ready", status: "False", reason: "InvariantPending", message, observedGeneration };
  }
  return {
    type: "Ready",
    status: "True",
    reason: "AsDeclared",
    message: "every service and invariant is as declared",
    observedGeneration,
  };
}

function describeDrift(drift: readonly Drift[]): string {
  return drift.map((d) => `${d.subject}: expected ${d.expected}, observed ${d.observed}`).join("; ");
}
