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

/** An open remediation no agent will work on: it waits for a person to fix the drift. */
export interface UnattendedRemediation {
  name: string;
  /** Its status reason: AgentOff or NoModelConfigured. */
  reason: string;
}

export interface DesiredStateConditionInput {
  generation: number;
  drift: readonly Drift[];
  invariants: readonly InvariantStatus[];
  activeRemediation: string | undefined;
  degradations: readonly Degradation[];
  deferredOpenings?: DeferredOpenings;
  /** Drift whose remediation ended Escalated, Failed or Interrupted: a person owns it until it clears. */
  escalated?: readonly Drift[];
  /** Drift that cleared by itself and came back, and when a remediation may open for it. */
  flapping?: readonly { subject: string; until: string }[];
  /** Open remediations that wait for a person (agent off, no model configured). */
  unattended?: readonly UnattendedRemediation[];
}

/**
 * The DesiredState's Ready, Drifted, Remediating and Degraded conditions, and Reconciling
 * and Stalled as kstatus (Argo CD, Flux, kpt) reads them. Pure.
 */
export function desiredStateConditions(input: DesiredStateConditionInput): ConditionInput[] {
  const observedGeneration = input.generation;
  const unknown = input.invariants.filter((i) => i.state === "Unknown");
  const pending = input.invariants.filter((i) => i.state === "Pending");
  const degraded = input.degradations.length > 0;
  const ready = readyCondition(input, unknown, pending, observedGeneration);
  return [
    ready,
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
    ...kstatusConditions(ready, stalledBy(input), observedGeneration),
  ];
}

/** Why Steward cannot make progress on its own: a person must act. Undefined while it can. */
function stalledBy(input: DesiredStateConditionInput): { reason: string; message: string } | undefined {
  const escalated = input.escalated ?? [];
  if (escalated.length > 0) {
    const subjects = escalated.map((d) => d.subject).join(", ");
    return {
      reason: "Escalated",
      message: `the remediation of ${subjects} was escalated or failed: a person owns it, and Steward opens a new one only once the drift has cleared`,
    };
  }
  const unattended = input.unattended ?? [];
  if (unattended.length === 0 || input.drift.length === 0) return undefined;
  return {
    reason: "WaitingForPerson",
    message: unattended
      .map((r) => `AgentRemediation ${r.name} waits for a person (${r.reason}): no agent will work on it`)
      .join("; "),
  };
}

/**
 * kstatus's conventions: Stalled=True when Steward cannot make progress without a person
 * (kstatus: Failed); else Reconciling=True while Ready is not True (kstatus: InProgress):
 * drift being fixed or remediated, an invariant within its for, a source being retried;
 * both False once Ready (kstatus: Current). Ready keeps its own meaning.
 */
function kstatusConditions(
  ready: ConditionInput,
  stalled: { reason: string; message: string } | undefined,
  observedGeneration: number,
): ConditionInput[] {
  if (stalled) {
    return [
      { type: "Reconciling", status: "False", reason: stalled.reason, message: stalled.message, observedGeneration },
      { type: "Stalled", status: "True", reason: stalled.reason, message: stalled.message, observedGeneration },
    ];
  }
  const notStalled = { type: "Stalled", status: "False", observedGeneration } as const;
  if (ready.status === "True") {
    const message = "nothing left to do: everything is as declared";
    return [
      { type: "Reconciling", status: "False", reason: ready.reason, message, observedGeneration },
      { ...notStalled, reason: ready.reason, message },
    ];
  }
  return [
    { type: "Reconciling", status: "True", reason: ready.reason, message: ready.message, observedGeneration },
    { ...notStalled, reason: "Progressing", message: "Steward is working on it by itself" },
  ];
}

/**
 * The conditions of a DesiredState whose spec is invalid (accepted by an older CRD that
 * lacked a rule): Steward does nothing with it, and says why instead of dropping it.
 */
export function invalidSpecConditions(problems: readonly string[], generation: number): ConditionInput[] {
  const message = `the spec is invalid, so Steward does not act on it: ${problems.join("; ")}`;
  const observedGeneration = generation;
  return [
    { type: "Ready", status: "False", reason: "InvalidSpec", message, observedGeneration },
    { type: "Reconciling", status: "False", reason: "InvalidSpec", message, observedGeneration },
    { type: "Stalled", status: "True", reason: "InvalidSpec", message, observedGeneration },
  ];
}

function remediatingCondition(input: DesiredStateConditionInput, observedGeneration: number): ConditionInput {
  const deferred = input.deferredOpenings;
  const waits = deferred
    ? `a remediation for ${deferred.subjects.join(", ")} waits: at most ${deferred.perMinute} remediations ` +
      `are opened a minute (--max-openings-per-minute); next try at ${deferred.at}`
    : undefined;
  if (input.activeRemediation) {
    const message = `AgentRemediation ${input.activeRemediation} is open${waits ? `; ${waits}` : ""}`;
    return { type: "Remediating", status: "True", reason: "RemediationOpen", message, observedGeneration };
  }
  if (waits) return { type: "Remediating", status: "False", reason: "RateLimited", message: waits, observedGeneration };
  const flapping = input.flapping ?? [];
  if (flapping.length > 0) {
    const message = flapping
      .map((f) => `${f.subject} cleared by itself and came back: a remediation opens if it is still here at ${f.until}`)
      .join("; ");
    return {
      type: "Remediating",
      status: "False",
      reason: "Flapping",
      message: `${message} (spec.remediation.cooldown)`,
      observedGeneration,
    };
  }
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
