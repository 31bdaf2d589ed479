import { randomBytes } from "node:crypto";
import type { DesiredState, InvariantStatus } from "../api/desired-state.js";
import { API_VERSION } from "../api/meta.js";
import {
  TERMINAL_PHASES,
  type AgentRemediation,
  type DriftWithEvidence,
  type RemediationStatus,
} from "../api/remediation.js";
import { driftFingerprint } from "./drift.js";
import type { PlannedStep } from "./plan.js";

export const LABEL_DESIRED_STATE = "steward.dev/desired-state";
export const LABEL_FINGERPRINT = "steward.dev/fingerprint";

export type OpenStep = Extract<PlannedStep, { type: "open" }>;

/** Why a new remediation waits: said in its status so nobody mistakes it for progress. */
export interface AgentAvailability {
  modelConfigured: boolean;
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
    },
    status: initialStatus(step, agent.mode, context),
  };
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
}

/**
 * Whether every drift a remediation was opened for is gone, judged on fresh observations:
 * an invariant must hold again (Unknown or Pending is not "cleared"), a container drift
 * a container or workload drift must be absent from a complete observation of the target. Pure.
 */
export function driftCleared(remediation: AgentRemediation, input: ClearedInput): boolean {
  const current = new Set(input.currentDrift.map((d) => driftFingerprint(input.desiredState, d)));
  return remediation.spec.drift.every((drift) => {
    if (drift.type === "InvariantViolated") {
      const name = drift.subject.replace(/^invariant\//, "");
      return input.invariants.find((i) => i.name === name)?.state === "Holding";
    }
    return input.targetObserved && !current.has(driftFingerprint(input.desiredState, drift));
  });
}

/** The status of a remediation that has none yet (created by a person or an old Steward). */
export function emptyRemediationStatus(): RemediationStatus {
  return { phase: "Pending", attempts: [], actions: [], pendingApproval: [], conditions: [] };
}
