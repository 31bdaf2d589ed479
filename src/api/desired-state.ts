import { z } from "zod";
import { AlertSpec } from "./alerts.js";
import { ConditionText } from "./condition-expr.js";
import { Duration, durationAtMost } from "./duration.js";
import { API_VERSION, Condition, ObjectMeta } from "./meta.js";

export const SimpleFix = z.enum(["start", "restart", "scale"]);
export type SimpleFix = z.infer<typeof SimpleFix>;

export const AgentMode = z.enum(["off", "observe", "approve", "auto"]);
export type AgentMode = z.infer<typeof AgentMode>;

const DockerTarget = z.strictObject({
  project: z
    .string()
    .min(1)
    .optional()
    .describe("Compose project: the containers labelled com.docker.compose.project=<project>."),
  selector: z
    .record(z.string(), z.string())
    .optional()
    .describe("Labels every container of the target carries (with or instead of project)."),
});

const KubernetesTarget = z.strictObject({
  namespace: z.string().min(1).describe("The namespace of the Deployments, StatefulSets and Pods to keep in shape."),
  selector: z
    .record(z.string(), z.string())
    .optional()
    .describe("Labels the workloads and their pods carry; every one in the namespace when absent."),
});

export const Target = z
  .strictObject({
    docker: DockerTarget.optional().describe(
      "Containers of the Docker daemon Steward runs beside, by compose project or labels. Exactly one of docker or kubernetes.",
    ),
    kubernetes: KubernetesTarget.optional().describe(
      "Deployments, StatefulSets and Pods in one namespace (steward run --targets kubernetes). Exactly one of docker or kubernetes.",
    ),
  })
  .superRefine((target, ctx) => {
    const given = [target.docker, target.kubernetes].filter((t) => t !== undefined).length;
    if (given !== 1) {
      ctx.addIssue({ code: "custom", message: "expected exactly one of docker or kubernetes" });
    }
    if (target.docker && !target.docker.project && !target.docker.selector) {
      ctx.addIssue({
        code: "custom",
        path: ["docker"],
        message: "expected a compose project or a label selector",
      });
    }
  });
export type Target = z.infer<typeof Target>;

export const RestartBudget = z.strictObject({
  max: z
    .number()
    .int()
    .nonnegative()
    .describe("Simple fixes allowed within the window; one more drift counts as a crash loop and opens a remediation."),
  window: Duration.describe("The sliding window the simple fixes are counted over."),
});
export type RestartBudget = z.infer<typeof RestartBudget>;

/** Applied when a service declares no budget: three simple fixes in ten minutes. */
export const DEFAULT_RESTART_BUDGET: RestartBudget = { max: 3, window: "10m" };

/** Longest service name: a Kubernetes object name (253) after "StatefulSet/". */
export const MAX_SERVICE_NAME_LENGTH = 265;
/** Most services and invariants one DesiredState declares (bounds the API server's CEL cost too). */
export const MAX_LIST_ITEMS = 256;

export const ServiceSpec = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(MAX_SERVICE_NAME_LENGTH)
    .describe(
      "Docker: the compose service name (a container whose name equals it matches when no service label does). Kubernetes: Deployment/<name> or StatefulSet/<name>. Unique within the DesiredState.",
    ),
  replicas: z
    .number()
    .int()
    .nonnegative()
    .default(1)
    .describe(
      "Docker: containers expected (another count is drift with no simple fix). Kubernetes: the workload's spec.replicas; another value is scaled back.",
    ),
  running: z.boolean().default(true).describe("false declares the service stopped (Kubernetes: 0 replicas)."),
  healthy: z
    .boolean()
    .default(false)
    .describe(
      "Docker: require the healthcheck to report healthy (unhealthy is restarted). Kubernetes: require readyReplicas >= replicas; unready for over 60 seconds opens a remediation.",
    ),
  restartBudget: RestartBudget.optional().describe(
    "Simple fixes allowed per window before the drift counts as a crash loop. Default: {max: 3, window: 10m}.",
  ),
});
export type ServiceSpec = z.infer<typeof ServiceSpec>;

/** The longest `for` an invariant may have: a longer violation window is not a live signal. */
export const MAX_INVARIANT_FOR = "24h";

/** An invariant's `for`: a duration of at most MAX_INVARIANT_FOR (the CRD checks the same in CEL). */
export const InvariantFor = durationAtMost(MAX_INVARIANT_FOR);

export const InvariantSpec = z.strictObject({
  name: z.string().min(1).describe("Unique within the DesiredState; names the invariant in status and remediations."),
  query: z.string().min(1).describe("A PromQL instant query, evaluated every spec.interval."),
  condition: ConditionText.describe(
    'What every returned sample must satisfy: "== N", "!= N", "> N", ">= N", "< N", "<= N" (NaN never does); or "empty" / "nonEmpty" over the whole result.',
  ),
  for: InvariantFor.default("0s").describe(
    "How long a violation must last before it is drift, as an alerting rule's for; at most 24h.",
  ),
  severity: z
    .enum(["info", "warning", "critical"])
    .default("warning")
    .describe("How much a violation matters, in words for people and the agent."),
  description: z.string().default("").describe("What the invariant means, for people and the agent."),
  hint: z.string().optional().describe("Where to look or what usually fixes it, for the agent."),
  onMissingData: z
    .enum(["unknown", "violate"])
    .default("unknown")
    .describe("Prometheus unreachable or no series: unknown (never a violation) or violate."),
});
export type InvariantSpec = z.infer<typeof InvariantSpec>;

export const AgentSpec = z.strictObject({
  mode: AgentMode.default("approve").describe(
    'off: remediations wait for a person; observe: the agent investigates and proposes, changing nothing; approve: every change waits for a person\'s approval; auto: changes the policy allows run at once (ask rules still wait). Quote "off": in YAML 1.1 a bare off is false.',
  ),
  policyRef: z
    .string()
    .default("default")
    .describe("The RemediationPolicy in this namespace that governs the agent; default is the built-in one."),
  maxAttempts: z
    .number()
    .int()
    .positive()
    .default(2)
    .describe("Agent sessions per remediation before it is escalated to a person."),
});

export const RemediationSpec = z.strictObject({
  simpleFixes: z
    .array(SimpleFix)
    .default(["start", "restart", "scale"])
    .describe("The simple fixes Steward may make (start, restart, scale); [] opens a remediation for every drift."),
  agent: AgentSpec.default({ mode: "approve", policyRef: "default", maxAttempts: 2 }).describe(
    "The agent that handles drift with no simple fix.",
  ),
  cooldown: Duration.default("5m").describe(
    "The least time between the end of one agent session of this DesiredState and the start of the next; also how long a drift that cleared by itself must wait after that before its return opens a new remediation (flapping).",
  ),
});

export const DesiredStateSpec = z
  .strictObject({
    target: Target.describe("What to keep in shape: Docker containers or Kubernetes workloads."),
    services: z
      .array(ServiceSpec)
      .max(MAX_LIST_ITEMS)
      .default([])
      .describe("The services (containers or workloads) and the state each must be in."),
    invariants: z
      .array(InvariantSpec)
      .max(MAX_LIST_ITEMS)
      .default([])
      .describe("PromQL conditions that must hold; a violation that lasts its for is drift."),
    remediation: RemediationSpec.default({
      simpleFixes: ["start", "restart", "scale"],
      agent: { mode: "approve", policyRef: "default", maxAttempts: 2 },
      cooldown: "5m",
    }).describe("What Steward may do about drift: simple fixes, then the agent."),
    interval: Duration.default("15s").describe("How often invariants are evaluated (and the DesiredState reconciled)."),
    alerts: z
      .array(AlertSpec)
      .max(64)
      .default([])
      .describe(
        "Alertmanager alerts this DesiredState owns: a matching alert that fires is drift (AlertFiring); needs steward run --alerts-addr.",
      ),
  })
  .superRefine((spec, ctx) => {
    uniqueNames(spec.services, "services", ctx);
    uniqueNames(spec.invariants, "invariants", ctx);
    if (spec.target.kubernetes) workloadNames(spec.services, ctx);
  });
export type DesiredStateSpec = z.infer<typeof DesiredStateSpec>;

/** The kinds a Kubernetes target's services may name, as `Kind/name`. */
export const WORKLOAD_KINDS = ["Deployment", "StatefulSet"] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/** The name part of a workload service name (a DNS-1123 subdomain); also in the CRD's CEL rule. */
export const WORKLOAD_NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** A Kubernetes target's service name split into kind and name; undefined when it is not `Kind/name`. */
export function parseWorkloadName(service: string): { kind: WorkloadKind; name: string } | undefined {
  const slash = service.indexOf("/");
  const kind = WORKLOAD_KINDS.find((k) => k === service.slice(0, slash));
  const name = service.slice(slash + 1);
  return kind && WORKLOAD_NAME_RE.test(name) ? { kind, name } : undefined;
}

function workloadNames(services: readonly { name: string }[], ctx: z.RefinementCtx): void {
  services.forEach((service, index) => {
    if (parseWorkloadName(service.name)) return;
    ctx.addIssue({
      code: "custom",
      path: ["services", index, "name"],
      message: `expected Deployment/<name> or StatefulSet/<name> for a kubernetes target, got ${JSON.stringify(service.name)}`,
    });
  });
}

function uniqueNames(items: { name: string }[], field: string, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  items.forEach((item, index) => {
    if (seen.has(item.name)) {
      ctx.addIssue({
        code: "custom",
        path: [field, index, "name"],
        message: `duplicate name ${JSON.stringify(item.name)}`,
      });
    }
    seen.add(item.name);
  });
}

export const DriftType = z.enum([
  "ContainerMissing",
  "ContainerStopped",
  "ContainerUnhealthy",
  "ContainerRunning",
  "ReplicasMismatch",
  "WorkloadMissing",
  "WorkloadUnready",
  "PodCrashLooping",
  "InvariantViolated",
  "AlertFiring",
]);
export type DriftType = z.infer<typeof DriftType>;

export const Drift = z.object({
  type: DriftType.describe("What kind of difference this is."),
  subject: z
    .string()
    .describe("What differs: container/<name>, deployment/<name>, statefulset/<name>, pod/<name> or invariant/<name>."),
  expected: z.string().describe("What the spec declares, in words."),
  observed: z.string().describe("What Steward observed, in words."),
  since: z.string().describe("When Steward first observed it (RFC 3339)."),
});
export type Drift = z.infer<typeof Drift>;

export const InvariantState = z.enum(["Holding", "Pending", "Violated", "Unknown"]);
export type InvariantState = z.infer<typeof InvariantState>;

export const InvariantStatus = z.object({
  name: z.string().describe("The invariant's name in spec.invariants."),
  state: InvariantState.describe(
    "Holding; Pending (violated, within its for); Violated (drift); Unknown (no data, or Prometheus unreachable).",
  ),
  since: z.string().describe("When it entered this state (RFC 3339)."),
  value: z.string().optional().describe("The samples the query returned at the last evaluation, in words."),
  reason: z.string().optional().describe("Why it is Unknown or violated, in words."),
  lastEvaluationTime: z.string().describe("When the query last ran (RFC 3339)."),
});
export type InvariantStatus = z.infer<typeof InvariantStatus>;

/** A simple fix Steward applied; kept so restart budgets survive restarts of Steward. */
export const FixRecord = z.object({
  subject: z.string().describe("The drift subject the fix was for."),
  action: SimpleFix.describe("The simple fix: start, restart or scale."),
  time: z.string().describe("When it was made (RFC 3339)."),
  /**
   * `Started` is written before the fix runs and replaced by its outcome; one read back
   * after a crash becomes `Interrupted` (it may or may not have run; it counts against the budget).
   */
  result: z
    .enum(["Succeeded", "Failed", "Started", "Interrupted"])
    .describe(
      "Succeeded or Failed; Started is written before the fix runs; Interrupted: Steward stopped before it recorded the outcome (it counts against the budget).",
    ),
  message: z.string().optional().describe("What was done, or the error."),
});
export type FixRecord = z.infer<typeof FixRecord>;

export const DesiredStateStatus = z.object({
  observedGeneration: z.number().int().optional().describe("The metadata.generation this status was computed for."),
  conditions: z
    .array(Condition)
    .default([])
    .describe(
      "Ready, Drifted, Remediating, Degraded, and Reconciling and Stalled as kstatus reads them; each with observedGeneration.",
    ),
  drift: z.array(Drift).default([]).describe("Every difference between the spec and what was observed."),
  invariants: z.array(InvariantStatus).default([]).describe("Each invariant's state at its last evaluation."),
  fixes: z
    .array(FixRecord)
    .default([])
    .describe("The simple fixes made in the last 24 hours (at most 100): what restart budgets count."),
  lastReconcileTime: z.string().optional().describe("The last reconcile that changed this status (RFC 3339)."),
  activeRemediation: z.string().optional().describe("The name of the open AgentRemediation, if any."),
});
export type DesiredStateStatus = z.infer<typeof DesiredStateStatus>;

export const DesiredState = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal("DesiredState"),
    metadata: ObjectMeta,
    spec: DesiredStateSpec.describe("What must be true of the target."),
    status: DesiredStateStatus.optional().describe("What Steward observed and did; written by Steward only."),
  })
  .describe(
    "DesiredState declares what must stay true of a Docker compose project or a Kubernetes namespace: services and PromQL invariants. Steward fixes simple drift and opens an AgentRemediation for the rest.",
  );
export type DesiredState = z.infer<typeof DesiredState>;
