import { randomBytes } from "node:crypto";
import type { DesiredState, InvariantStatus } from "../api/desired-state.js";
import { parseDuration } from "../api/duration.js";
import { API_VERSION } from "../api/meta.js";
import {
  TERMINAL_PHASES,
  type AgentRemediation,
  type DriftWithEvidence,
  type RemediationStatus,
} from "../api/remediation.js";
import type { Severity } from "../api/alerts.js";
import { alertFingerprintOf, alertSeverity, driftFingerprint, matchingAlertSpec } from "./drift.js";
import { withRemediationConditions } from "./remediation-conditions.js";
import type { PlannedStep } from "./plan.js";
import { withTransitionRecord } from "./notification-outbox.js";

export const LABEL_DESIRED_STATE = "steward.dev/desired-state";
export const LABEL_FINGERPRINT = "steward.dev/fingerprint";

export type OpenStep = Extract<PlannedStep, { type: "open" }>;

/** Why a new remediation waits: said in its status so nobody mistakes it for progress. */
export interface AgentAvailability {
  modelConfigured: boolean;
}

/** spec.remediation.cooldown in ms (validated on apply; 0 if it somehow does not parse). */
export function cooldownMs(desiredState: DesiredState): number {
  return parseDuration(desiredState.spec.remediation.cooldown) ?? 0;
}

export function isOpen(remediation: AgentRemediation): boolean {
  return !TERMINAL_PHASES.has(remediation.status?.phase ?? "Pending");
}

/** A new AgentRemediation for one drift, holding the evidence gathered when it opened. Pure. */
export function newRemediation(
  desiredState: DesiredState,
  step: OpenStep,
  evidence: DriftWithEvidence,
  context: { now: Date; agent: AgentAvailability },
): AgentRemediation {
  const name = remediationName(desiredState.metadata.name, step.drift.subject);
  const { agent } = desiredState.spec.remediation;
  return {
    apiVersion: API_VERSION,
    kind: "AgentRemediation",
    metadata: {
      name,
      namespace: desiredState.metadata.namespace,
      labels: { [LABEL_DESIRED_STATE]: desiredState.metadata.name, [LABEL_FINGERPRINT]: step.fingerprint },
    },
    spec: {
      desiredStateRef: { name: desiredState.metadata.name, namespace: desiredState.metadata.namespace },
      fingerprint: step.fingerprint,
      reason: step.reason,
      drift: [evidence],
      policyRef: agent.policyRef,
      mode: agent.mode,
      maxAttempts: agent.maxAttempts,
      severity: severityOf(desiredState, evidence),
    },
    // Conditions from birth: `kubectl wait --for=condition=…` reads them from the start; the
    // Opened notification is in the outbox from the first write (notification-outbox.ts).
    status: withRemediationConditions(
      withTransitionRecord(undefined, initialStatus(step, agent.mode, context), context.now),
      1,
      context.now,
    ),
  };
}

/**
 * How bad a drift is, for people and notification filters: an invariant's declared
 * severity; an alert's (spec.alerts, else its own label); and critical for the target's
 * own drift (a declared container or workload not as declared, with no simple fix left).
 */
export function severityOf(desiredState: DesiredState, drift: DriftWithEvidence): Severity {
  if (drift.type === "InvariantViolated") {
    const name = drift.subject.replace(/^invariant\//, "");
    return desiredState.spec.invariants.find((i) => i.name === name)?.severity ?? "warning";
  }
  if (drift.type === "AlertFiring") {
    const labels = drift.evidence.alert?.labels ?? {};
    return alertSeverity(matchingAlertSpec(desiredState.spec.alerts, labels), labels);
  }
  return "critical";
}

function initialStatus(
  step: OpenStep,
  mode: AgentRemediation["spec"]["mode"],
  context: { now: Date; agent: AgentAvailability },
): RemediationStatus {
  const base = { ...emptyRemediationStatus(), openedAt: context.now.toISOString() };
  if (mode === "off") {
    return {
      ...base,
      reason: "AgentOff",
      message: `${step.message}; spec.remediation.agent.mode is off, so this waits for a person`,
    };
  }
  if (!context.agent.modelConfigured) {
    return {
      ...base,
      reason: "NoModelConfigured",
      message: `${step.message}; no model is configured, so this waits for a person (set ANTHROPIC_API_KEY for steward run to let the agent investigate)`,
    };
  }
  return { ...base, reason: step.reason, message: step.message };
}

function remediationName(desiredState: string, subject: string): string {
  const slug = subject
    .replace(/^[a-z]+\//, "")
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .slice(0, 40);
  const suffix = randomBytes(3).toString("hex");
  return `${desiredState}-${slug}-${suffix}`.replace(/-+/g, "-");
}

export interface ClearedInput {
  desiredState: string;
  currentDrift: readonly { type: DriftWithEvidence["type"]; subject: string }[];
  invariants: readonly InvariantStatus[];
  /** False while the target (Docker or Kubernetes) could not be observed: its drift cannot be said to be gone. */
  targetObserved: boolean;
  /**
   * The DesiredState's workloads still rolling out (unsettledWorkloads). A crash-looping pod
   * is replaced, not repaired: its drift is gone only once the replacement runs Ready, and
   * until then the replacement may be crash-looping too. None when not given.
   */
  unsettledWorkloads?: readonly string[];
  /** Whether an alert is known to have resolved; absent: none is. */
  alertResolved?: (fingerprint: string) => boolean;
}

/**
 * Whether every drift a remediation was opened for is gone, judged on fresh observations:
 * an invariant must hold again (Unknown or Pending is not "cleared"), a container or
 * workload drift must be absent from a complete observation of the target,
 * and a crash-looping pod's drift also needs every declared workload rolled out and Ready. Pure.
 */
export function driftCleared(remediation: AgentRemediation, input: ClearedInput): boolean {
  const current = new Set(input.currentDrift.map((d) => driftFingerprint(input.desiredState, d)));
  return remediation.spec.drift.every((drift) => oneDriftCleared(drift, current, input));
}

function alertCleared(drift: DriftWithEvidence, input: ClearedInput): boolean {
  return input.alertResolved?.(alertFingerprintOf(drift) ?? "") ?? false;
}

function oneDriftCleared(drift: DriftWithEvidence, current: ReadonlySet<string>, input: ClearedInput): boolean {
  if (drift.type === "InvariantViolated") {
    const name = drift.subject.replace(/^invariant\//, "");
    return input.invariants.find((i) => i.name === name)?.state === "Holding";
  }
  if (drift.type === "PodCrashLooping" && (input.unsettledWorkloads ?? []).length > 0) return false;
  // Absent from the cache is not resolved: a restarted Steward may not have heard of it yet.
  if (drift.type === "AlertFiring") return alertCleared(drift, input);
  return input.targetObserved && !current.has(driftFingerprint(input.desiredState, drift));
}

/** The status of a remediation that has none yet (created by a person or an old Steward). */
export function emptyRemediationStatus(): RemediationStatus {
  return { phase: "Pending", attempts: [], actions: [], pendingApproval: [], conditions: [] };
}
