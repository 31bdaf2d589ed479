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

export const RemediationPolicySpec = z.strictObject({
  rules: z.array(PolicyRule).default([]),
  budgets: Budgets.default(Budgets.parse({})),
  dryRun: z.boolean().default(false),
  model: z.string().optional(),
});
export type RemediationPolicySpec = z.infer<typeof RemediationPolicySpec>;

export const RemediationPolicy = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal("RemediationPolicy"),
  metadata: ObjectMeta,
  spec: RemediationPolicySpec,
});
export type RemediationPolicy = z.infer<typeof RemediationPolicy>;
