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
  models: z
    .strictObject({
      anthropic: z.string().min(1).optional().describe("The model id on the Anthropic API (claude-sonnet-5-5)."),
      bedrock: z
        .string()
        .min(1)
        .optional()
        .describe("The Bedrock model id or inference profile (global.anthropic.claude-sonnet-5-5)."),
      vertex: z.string().min(1).optional().describe("The Vertex AI model id (claude-sonnet-5-5)."),
    })
    .optional()
    .describe("The model per provider (steward run --provider); wins over model for that provider."),
});
export type RemediationPolicySpec = z.infer<typeof RemediationPolicySpec>;

export const RemediationPolicy = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal("RemediationPolicy"),
  metadata: ObjectMeta,
  spec: RemediationPolicySpec,
});
export type RemediationPolicy = z.infer<typeof RemediationPolicy>;
