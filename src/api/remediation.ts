import { z } from "zod";
import { AlertEvidence, Severity } from "./alerts.js";
import { AgentMode, Drift } from "./desired-state.js";
import { NotificationRecord } from "./notifications.js";
import { API_VERSION, Condition, ObjectMeta } from "./meta.js";

/** What Docker (or the kubelet, for a pod's container) said about a container when the remediation opened. */
export const ContainerEvidence = z.object({
  name: z.string().describe("The container's name."),
  pod: z.string().optional().describe("The pod the container runs in, for a Kubernetes target."),
  id: z.string().optional().describe("The container's ID."),
  state: z.string().describe("Its state: running, exited, restarting, waiting (CrashLoopBackOff)…"),
  health: z.string().optional().describe("Its healthcheck's status, when it has one."),
  exitCode: z.number().int().optional().describe("The exit code of its last run."),
  restartCount: z.number().int().optional().describe("Restarts Docker or the kubelet made."),
  oomKilled: z.boolean().optional().describe("Whether the last run was killed for memory."),
  startedAt: z.string().optional().describe("When the last run started (RFC 3339)."),
  finishedAt: z.string().optional().describe("When the last run ended (RFC 3339)."),
  error: z.string().optional().describe("The error Docker or the kubelet reported."),
  logs: z.array(z.string()).default([]).describe("Its last log lines (at most 50), secrets redacted; untrusted text."),
});
export type ContainerEvidence = z.infer<typeof ContainerEvidence>;

/** What a Deployment or StatefulSet declared and reported when the remediation opened. */
export const WorkloadEvidence = z.object({
  kind: z.string().describe("Deployment or StatefulSet."),
  name: z.string().describe("The workload's name."),
  replicas: z.number().int().describe("Its spec.replicas."),
  readyReplicas: z.number().int().describe("Its status.readyReplicas."),
  updatedReplicas: z.number().int().describe("Its status.updatedReplicas."),
  pods: z.array(z.string()).default([]).describe("The names of its pods."),
});
export type WorkloadEvidence = z.infer<typeof WorkloadEvidence>;

/** What Prometheus answered for an invariant's query when the remediation opened. */
export const MetricEvidence = z.object({
  query: z.string().describe("The invariant's PromQL query."),
  condition: z.string().describe("The invariant's condition."),
  samples: z
    .array(
      z.object({
        labels: z.record(z.string(), z.string()).describe("The sample's labels."),
        value: z.string().describe("The sample's value."),
      }),
    )
    .describe("What Prometheus answered."),
  error: z.string().optional().describe("The query's error, when it failed."),
});
export type MetricEvidence = z.infer<typeof MetricEvidence>;

export const DriftWithEvidence = Drift.extend({
  evidence: z
    .object({
      containers: z
        .array(ContainerEvidence)
        .optional()
        .describe("The containers involved, as Docker or the kubelet saw them."),
      workload: WorkloadEvidence.optional().describe("The Deployment or StatefulSet involved."),
      metric: MetricEvidence.optional().describe("The invariant's query and what Prometheus answered."),
      fixesTried: z
        .number()
        .int()
        .optional()
        .describe("Simple fixes made on this subject before the remediation opened."),
      alert: AlertEvidence.optional().describe("The Alertmanager alert behind an AlertFiring drift."),
    })
    .default({})
    .describe("What Steward saw when the remediation opened."),
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
  desiredStateRef: z
    .object({
      name: z.string().describe("The DesiredState's name."),
      namespace: z.string().optional().describe("Its namespace; this remediation's when absent."),
    })
    .describe("The DesiredState whose drift this is."),
  fingerprint: z
    .string()
    .describe("DesiredState, drift type and subject: at most one open remediation per fingerprint."),
  reason: z.string().describe("Why it opened: NoSimpleFix, SimpleFixDisabled or RestartBudgetExhausted."),
  drift: z.array(DriftWithEvidence).describe("The drift, with the evidence gathered when it opened."),
  policyRef: z.string().default("default").describe("The RemediationPolicy the agent works under."),
  mode: AgentMode.describe("The agent mode, copied from the DesiredState when it opened."),
  maxAttempts: z.number().int().positive().default(2).describe("Agent sessions before it is escalated."),
  severity: Severity.optional().describe(
    "How bad the drift is: an invariant's or alert's severity, critical for a target's own drift; notifications filter on it.",
  ),
});
export type RemediationSpec = z.infer<typeof RemediationSpec>;

export const ActionRecord = z.object({
  id: z.string().describe("The tool call's ID, as approvals name it."),
  tool: z.string().describe("The tool the agent called."),
  command: z.array(z.string()).describe("The argv the call stands for."),
  decision: z.enum(["allow", "ask", "deny"]).describe("What the policy decided."),
  approver: z.string().optional().describe("Who approved or denied it, for a call that asked."),
  exitCode: z.number().int().optional().describe("The command's exit code."),
  dryRun: z.boolean().optional().describe("true: recorded as it would run, and not run (policy dryRun)."),
  time: z.string().describe("When it was decided (RFC 3339)."),
  output: z.string().optional().describe("The start of its output, secrets redacted; untrusted text."),
  /**
   * Of a change that was run (absent on denials): `Started` is the idempotency record,
   * written before it runs; `Finished` once its result is in; `Unknown` when Steward stopped
   * between the two, so it may or may not have taken effect. It is never re-run blindly.
   */
  state: z
    .enum(["Started", "Finished", "Unknown"])
    .optional()
    .describe(
      "Of a change that ran: Started (recorded before it ran), Finished, or Unknown (Steward stopped in between; never re-run blindly).",
    ),
});
export type ActionRecord = z.infer<typeof ActionRecord>;

export const PendingApproval = z.object({
  id: z.string().describe("The call's ID: steward approve NAME --id ID, or the steward.dev/approve annotation."),
  tool: z.string().describe("The tool the agent called."),
  command: z.array(z.string()).describe("The argv it would run."),
  reason: z.string().describe("Why it needs a person: the rule or the mode."),
  requestedAt: z.string().describe("When it was asked for (RFC 3339)."),
});
export type PendingApproval = z.infer<typeof PendingApproval>;

export const Usage = z.object({
  inputTokens: z.number().int().default(0).describe("Input tokens the agent's model calls used."),
  outputTokens: z.number().int().default(0).describe("Output tokens (what kubectl get and steward get show)."),
  cacheReadTokens: z.number().int().default(0).describe("Prompt-cache read tokens."),
  cacheWriteTokens: z.number().int().default(0).describe("Prompt-cache write tokens."),
  estimatedCostUSD: z.number().default(0).describe("The estimated cost, in US dollars."),
});
export type Usage = z.infer<typeof Usage>;

export const Attempt = z.object({
  number: z.number().int().describe("1 for the first agent session, 2 for the next…"),
  startedAt: z.string().describe("When the session started (RFC 3339)."),
  finishedAt: z.string().optional().describe("When it ended (RFC 3339)."),
  outcome: z.string().optional().describe("How it ended, in words."),
});

/**
 * The last entry of the remediation's audit trail that was on disk when the status was
 * written: the status is where the audit file cannot rewrite it, so `steward audit verify`
 * finds lines cut off the end (agent/audit.ts).
 */
export const AuditHead = z.object({
  seq: z.number().int().positive().describe("The entry's sequence number in the trail."),
  hash: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .describe("SHA-256 of the entry's line, hex."),
});
export type AuditHead = z.infer<typeof AuditHead>;

export const RemediationStatus = z.object({
  phase: RemediationPhase.default("Pending").describe(
    "Pending → Investigating → AwaitingApproval → Remediating → Verifying → Resolved, or Failed, Escalated, Cancelled, Interrupted.",
  ),
  reason: z.string().optional().describe("Why it is in this phase, in one CamelCase word."),
  message: z.string().optional().describe("Why, in words."),
  openedAt: z.string().optional().describe("When it opened (RFC 3339)."),
  closedAt: z.string().optional().describe("When it reached a final phase (RFC 3339)."),
  sessionId: z.string().optional().describe("The current agent session: steward logs NAME shows it."),
  attempts: z.array(Attempt).default([]).describe("The agent sessions so far."),
  actions: z
    .array(ActionRecord)
    .default([])
    .describe("Every command the agent ran or was refused, with approver and exit code."),
  pendingApproval: z.array(PendingApproval).default([]).describe("The calls waiting for a person."),
  summary: z.string().optional().describe("The agent's summary when it resolved or escalated."),
  usage: Usage.optional().describe("Tokens and estimated cost so far."),
  verifiedAt: z.string().optional().describe("When Steward saw the drift gone after the agent's fix (RFC 3339)."),
  auditHead: AuditHead.optional().describe(
    "The audit trail's last entry when this status was written; steward audit verify checks the file against it.",
  ),
  conditions: z
    .array(Condition)
    .default([])
    .describe(
      "Ready and Resolved (True once resolved, Unknown while open), AwaitingApproval, Stalled (Escalated, Failed or Interrupted: a person must act) and Reconciling (open), each with observedGeneration.",
    ),
  notifications: z
    .array(NotificationRecord)
    .optional()
    .describe("The notification outbox: one record per transition people are told about, with each sink's delivery."),
});
export type RemediationStatus = z.infer<typeof RemediationStatus>;

export const AgentRemediation = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal("AgentRemediation"),
    metadata: ObjectMeta,
    spec: RemediationSpec.describe("The drift and its evidence; written by Steward when it opens."),
    status: RemediationStatus.optional().describe("The agent session's progress; written by Steward only."),
  })
  .describe(
    "AgentRemediation is one incident Steward could not fix simply: the drift, its evidence, and the policy-gated agent session that handles it.",
  );
export type AgentRemediation = z.infer<typeof AgentRemediation>;
