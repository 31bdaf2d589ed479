import { z } from "zod";
import { Duration } from "./duration.js";
import { API_VERSION, ObjectMeta } from "./meta.js";

export const PolicyDecisionKind = z.enum(["allow", "ask", "deny"]);
export type PolicyDecisionKind = z.infer<typeof PolicyDecisionKind>;

/**
 * A rule over argv in the familiar `docker start *` form. Structured tools are matched
 * through the argv they stand for (`docker_start{container: x}` is `docker start x`), so
 * one rule list governs both the shell tool and the typed tools.
 */
export const PolicyRule = z.strictObject({
  decision: PolicyDecisionKind,
  command: z.string().min(1),
  description: z.string().optional(),
});
export type PolicyRule = z.infer<typeof PolicyRule>;

export const Budgets = z.strictObject({
  maxTurns: z.number().int().positive().default(20),
  maxToolCalls: z.number().int().positive().default(40),
  maxMutations: z.number().int().nonnegative().default(5),
  maxTokens: z.number().int().positive().default(200_000),
  maxCostUSD: z.number().positive().default(2),
  maxDuration: Duration.default("10m"),
  toolTimeout: Duration.default("30s"),
  outputCap: z.number().int().positive().default(16_384),
});
export type Budgets = z.infer<typeof Budgets>;

/**
 * A network endpoint a shell command may name (`--endpoints=…`): a URL with a host, or
 * `host:port`. The agent never picks a destination itself (see agent/destinations.ts).
 */
export const Endpoint = z
  .string()
  .regex(
    /^(?:[a-z][a-z0-9+.-]*:\/\/)?[A-Za-z0-9.[\]:_-]+(?::\d{1,5})?\/?$/,
    "a URL like http://10.0.0.5:2379, or host:port",
  );

export const RemediationPolicySpec = z.strictObject({
  rules: z.array(PolicyRule).default([]),
  budgets: Budgets.default(Budgets.parse({})),
  dryRun: z.boolean().default(false),
  model: z.string().optional(),
  /**
   * What the read-only tools may read: `target` (the DesiredState's own target: its compose
   * project or selector, its namespace and selector), or `all` (every container on the
   * Docker host, every object in the target's namespace).
   */
  reads: z.enum(["target", "all"]).default("target"),
  /** Endpoints shell commands may name besides those the target's members advertise. */
  endpoints: z.array(Endpoint).max(64).default([]),
});
export type RemediationPolicySpec = z.infer<typeof RemediationPolicySpec>;

export const RemediationPolicy = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal("RemediationPolicy"),
  metadata: ObjectMeta,
  spec: RemediationPolicySpec,
});
export type RemediationPolicy = z.infer<typeof RemediationPolicy>;
