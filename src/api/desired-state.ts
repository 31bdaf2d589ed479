import { z } from "zod";
import { AlertSpec } from "./alerts.js";
import { ConditionText } from "./condition-expr.js";
import { Duration } from "./duration.js";
import { API_VERSION, Condition, ObjectMeta } from "./meta.js";

export const SimpleFix = z.enum(["start", "restart", "scale"]);
export type SimpleFix = z.infer<typeof SimpleFix>;

export const AgentMode = z.enum(["off", "observe", "approve", "auto"]);
export type AgentMode = z.infer<typeof AgentMode>;

const DockerTarget = z.strictObject({
  project: z.string().min(1).optional(),
  selector: z.record(z.string(), z.string()).optional(),
});

const KubernetesTarget = z.strictObject({
  namespace: z.string().min(1),
  selector: z.record(z.string(), z.string()).optional(),
});

export const Target = z
  .strictObject({ docker: DockerTarget.optional(), kubernetes: KubernetesTarget.optional() })
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
  max: z.number().int().nonnegative(),
  window: Duration,
});
export type RestartBudget = z.infer<typeof RestartBudget>;

/** Applied when a service declares no budget: three simple fixes in ten minutes. */
export const DEFAULT_RESTART_BUDGET: RestartBudget = { max: 3, window: "10m" };

export const ServiceSpec = z.strictObject({
  name: z.string().min(1),
  replicas: z.number().int().nonnegative().default(1),
  running: z.boolean().default(true),
  healthy: z.boolean().default(false),
  restartBudget: RestartBudget.optional(),
});
export type ServiceSpec = z.infer<typeof ServiceSpec>;

export const InvariantSpec = z.strictObject({
  name: z.string().min(1),
  query: z.string().min(1),
  condition: ConditionText,
  for: Duration.default("0s"),
  severity: z.enum(["info", "warning", "critical"]).default("warning"),
  description: z.string().default(""),
  hint: z.string().optional(),
  onMissingData: z.enum(["unknown", "violate"]).default("unknown"),
});
export type InvariantSpec = z.infer<typeof InvariantSpec>;

export const AgentSpec = z.strictObject({
  mode: AgentMode.default("approve"),
  policyRef: z.string().default("default"),
  maxAttempts: z.number().int().positive().default(2),
});

export const RemediationSpec = z.strictObject({
  simpleFixes: z.array(SimpleFix).default(["start", "restart", "scale"]),
  agent: AgentSpec.default({ mode: "approve", policyRef: "default", maxAttempts: 2 }),
  cooldown: Duration.default("5m"),
});

export const DesiredStateSpec = z
  .strictObject({
    target: Target,
    services: z.array(ServiceSpec).default([]),
    invariants: z.array(InvariantSpec).default([]),
    remediation: RemediationSpec.default({
      simpleFixes: ["start", "restart", "scale"],
      agent: { mode: "approve", policyRef: "default", maxAttempts: 2 },
      cooldown: "5m",
    }),
    interval: Duration.default("15s"),
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

/** A Kubernetes target's service name split into kind and name; undefined when it is not `Kind/name`. */
export function parseWorkloadName(service: string): { kind: WorkloadKind; name: string } | undefined {
  const slash = service.indexOf("/");
  const kind = WORKLOAD_KINDS.find((k) => k === service.slice(0, slash));
  const name = service.slice(slash + 1);
  return kind && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) ? { kind, name } : undefined;
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
  type: DriftType,
  subject: z.string(),
  expected: z.string(),
  observed: z.string(),
  since: z.string(),
});
export type Drift = z.infer<typeof Drift>;

export const InvariantState = z.enum(["Holding", "Pending", "Violated", "Unknown"]);
export type InvariantState = z.infer<typeof InvariantState>;

export const InvariantStatus = z.object({
  name: z.string(),
  state: InvariantState,
  since: z.string(),
  value: z.string().optional(),
  reason: z.string().optional(),
  lastEvaluationTime: z.string(),
});
export type InvariantStatus = z.infer<typeof InvariantStatus>;

/** A simple fix Steward applied; kept so restart budgets survive restarts of Steward. */
export const FixRecord = z.object({
  subject: z.string(),
  action: SimpleFix,
  time: z.string(),
  /**
   * `Started` is written before the fix runs and replaced by its outcome; one read back
   * after a crash becomes `Interrupted` (it may or may not have run; it counts against the budget).
   */
  result: z.enum(["Succeeded", "Failed", "Started", "Interrupted"]),
  message: z.string().optional(),
});
export type FixRecord = z.infer<typeof FixRecord>;

export const DesiredStateStatus = z.object({
  observedGeneration: z.number().int().optional(),
  conditions: z.array(Condition).default([]),
  drift: z.array(Drift).default([]),
  invariants: z.array(InvariantStatus).default([]),
  fixes: z.array(FixRecord).default([]),
  lastReconcileTime: z.string().optional(),
  activeRemediation: z.string().optional(),
});
export type DesiredStateStatus = z.infer<typeof DesiredStateStatus>;

export const DesiredState = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal("DesiredState"),
  metadata: ObjectMeta,
  spec: DesiredStateSpec,
  status: DesiredStateStatus.optional(),
});
export type DesiredState = z.infer<typeof DesiredState>;
