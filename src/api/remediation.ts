import { z } from "zod";
import { AgentMode, Drift } from "./desired-state.js";
import { API_VERSION, Condition, ObjectMeta } from "./meta.js";

/** What Docker (or the kubelet, for a pod's container) said about a container when the remediation opened. */
export const ContainerEvidence = z.object({
  name: z.string(),
  /** The pod the container runs in, for a Kubernetes target. */
  pod: z.string().optional(),
  id: z.string().optional(),
  state: z.string(),
  health: z.string().optional(),
  exitCode: z.number().int().optional(),
  restartCount: z.number().int().optional(),
  oomKilled: z.boolean().optional(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  error: z.string().optional(),
  logs: z.array(z.string()).default([]),
});
export type ContainerEvidence = z.infer<typeof ContainerEvidence>;

/** What a Deployment or StatefulSet declared and reported when the remediation opened. */
export const WorkloadEvidence = z.object({
  kind: z.string(),
  name: z.string(),
  replicas: z.number().int(),
  readyReplicas: z.number().int(),
  updatedReplicas: z.number().int(),
  pods: z.array(z.string()).default([]),
});
export type WorkloadEvidence = z.infer<typeof WorkloadEvidence>;

/** What Prometheus answered for an invariant's query when the remediation opened. */
export const MetricEvidence = z.object({
  query: z.string(),
  condition: z.string(),
  samples: z.array(z.object({ labels: z.record(z.string(), z.string()), value: z.string() })),
  error: z.string().optional(),
});
export type MetricEvidence = z.infer<typeof MetricEvidence>;

export const DriftWithEvidence = Drift.extend({
  evidence: z
    .object({
      containers: z.array(ContainerEvidence).optional(),
      workload: WorkloadEvidence.optional(),
      metric: MetricEvidence.optional(),
      fixesTried: z.number().int().optional(),
    })
    .default({}),
});
export type DriftWithEvidence = z.infer<typeof DriftWithEvidence>;

export const RemediationPhase = z.enum([
  "Pending",
  "Investigating",
  "AwaitingApproval",
  "Remediating",
  "Verifying",
  "Resolved",
  "Failed",
  "Escalated",
  "Cancelled",
  "Interrupted",
]);
export type RemediationPhase = z.infer<typeof RemediationPhase>;

export const TERMINAL_PHASES: ReadonlySet<RemediationPhase> = new Set([
  "Resolved",
  "Failed",
  "Escalated",
  "Cancelled",
  "Interrupted",
]);

export const RemediationSpec = z.object({
  desiredStateRef: z.object({ name: z.string(), namespace: z.string().optional() }),
  fingerprint: z.string(),
  reason: z.string(),
  drift: z.array(DriftWithEvidence),
  policyRef: z.string().default("default"),
  mode: AgentMode,
  maxAttempts: z.number().int().positive().default(2),
});
export type RemediationSpec = z.infer<typeof RemediationSpec>;

export const ActionRecord = z.object({
  id: z.string(),
  tool: z.string(),
  command: z.array(z.string()),
  decision: z.enum(["allow", "ask", "deny"]),
  approver: z.string().optional(),
  exitCode: z.number().int().optional(),
  dryRun: z.boolean().optional(),
  time: z.string(),
  output: z.string().optional(),
  /**
   * Of a change that was run (absent on denials): `Started` is the idempotency record,
   * written before it runs; `Finished` once its result is in; `Unknown` when Steward stopped
   * between the two, so it may or may not have taken effect. It is never re-run blindly.
   */
  state: z.enum(["Started", "Finished", "Unknown"]).optional(),
});
export type ActionRecord = z.infer<typeof ActionRecord>;

export const PendingApproval = z.object({
  id: z.string(),
  tool: z.string(),
  command: z.array(z.string()),
  reason: z.string(),
  requestedAt: z.string(),
});
export type PendingApproval = z.infer<typeof PendingApproval>;

export const Usage = z.object({
  inputTokens: z.number().int().default(0),
  outputTokens: z.number().int().default(0),
  cacheReadTokens: z.number().int().default(0),
  cacheWriteTokens: z.number().int().default(0),
  estimatedCostUSD: z.number().default(0),
});
export type Usage = z.infer<typeof Usage>;

export const Attempt = z.object({
  number: z.number().int(),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  outcome: z.string().optional(),
});

/**
 * The last entry of the remediation's audit trail that was on disk when the status was
 * written: the status is where the audit file cannot rewrite it, so `steward audit verify`
 * finds lines cut off the end (agent/audit.ts).
 */
export const AuditHead = z.object({
  seq: z.number().int().positive(),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
});
export type AuditHead = z.infer<typeof AuditHead>;

export const RemediationStatus = z.object({
  phase: RemediationPhase.default("Pending"),
  reason: z.string().optional(),
  message: z.string().optional(),
  openedAt: z.string().optional(),
  closedAt: z.string().optional(),
  sessionId: z.string().optional(),
  attempts: z.array(Attempt).default([]),
  actions: z.array(ActionRecord).default([]),
  pendingApproval: z.array(PendingApproval).default([]),
  summary: z.string().optional(),
  usage: Usage.optional(),
  verifiedAt: z.string().optional(),
  auditHead: AuditHead.optional(),
  conditions: z.array(Condition).default([]),
});
export type RemediationStatus = z.infer<typeof RemediationStatus>;

export const AgentRemediation = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal("AgentRemediation"),
  metadata: ObjectMeta,
  spec: RemediationSpec,
  status: RemediationStatus.optional(),
});
export type AgentRemediation = z.infer<typeof AgentRemediation>;
