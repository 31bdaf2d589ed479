import { TERMINAL_PHASES, type RemediationPhase, type RemediationStatus } from "../api/remediation.js";
import type { Condition } from "../api/meta.js";
import { setCondition, type ConditionInput } from "./conditions.js";

/** The phases in which Steward stops and a person must act: the outcome was not a fix. */
const STALLED_PHASES: ReadonlySet<RemediationPhase> = new Set(["Escalated", "Failed", "Interrupted"]);

/**
 * An AgentRemediation's conditions, from its status alone (pure), so that
 * `kubectl wait --for=condition=Resolved` and `--for=condition=AwaitingApproval` work and
 * kstatus reads it:
 * - Ready and Resolved: True once Resolved; False once it ended otherwise (the phase is the
 *   reason); Unknown while it is open, since the outcome is not known yet.
 * - AwaitingApproval: True while calls wait for a person's decision.
 * - Stalled: True when it ended Escalated, Failed or Interrupted (kstatus: Failed).
 * - Reconciling: True while it is open (kstatus: InProgress).
 * Each carries `generation` as observedGeneration.
 */
export function remediationConditions(status: RemediationStatus, generation: number): ConditionInput[] {
  const { phase } = status;
  const observedGeneration = generation;
  const why = status.message ?? status.summary ?? phase;
  const open = !TERMINAL_PHASES.has(phase);
  const resolved: Omit<ConditionInput, "type"> =
    phase === "Resolved"
      ? { status: "True", reason: status.reason ?? "Resolved", message: why, observedGeneration }
      : open
        ? { status: "Unknown", reason: phase, message: `still ${phase}`, observedGeneration }
        : { status: "False", reason: phase, message: why, observedGeneration };
  return [
    { type: "Ready", ...resolved },
    { type: "Resolved", ...resolved },
    awaitingApproval(status, observedGeneration),
    STALLED_PHASES.has(phase)
      ? { type: "Stalled", status: "True", reason: phase, message: why, observedGeneration }
      : { type: "Stalled", status: "False", reason: phase, message: `not stalled: ${phase}`, observedGeneration },
    open
      ? { type: "Reconciling", status: "True", reason: phase, message: why, observedGeneration }
      : { type: "Reconciling", status: "False", reason: phase, message: `ended: ${phase}`, observedGeneration },
  ];
}

function awaitingApproval(status: RemediationStatus, observedGeneration: number): ConditionInput {
  if (status.phase !== "AwaitingApproval") {
    const message = "no call waits for a person";
    return { type: "AwaitingApproval", status: "False", reason: status.phase, message, observedGeneration };
  }
  const ids = status.pendingApproval.map((p) => p.id);
  const message =
    ids.length > 0
      ? `${ids.length} call(s) wait for a person's decision: ${ids.join(", ")} (steward approve, or the steward.dev/approve annotation)`
      : "waiting for a person's decision";
  return { type: "AwaitingApproval", status: "True", reason: "ApprovalRequired", message, observedGeneration };
}

/** `status` with its conditions recomputed; lastTransitionTime moves only when a condition's status does. */
export function withRemediationConditions(status: RemediationStatus, generation: number, now: Date): RemediationStatus {
  const conditions = remediationConditions(status, generation).reduce<Condition[]>(
    (list, condition) => setCondition(list, condition, now),
    status.conditions,
  );
  return { ...status, conditions };
}
