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
  decision: PolicyDecisionKind.describe(
    "allow runs the command; ask waits for a person's approval; deny refuses it. deny rules are read first, then ask, then allow; a command no rule matches is denied.",
  ),
  command: z
    .string()
    .min(1)
    .describe(
      'The argv it matches, words separated by spaces, * for any one word and a trailing * for the rest: "docker start *".',
    ),
  description: z.string().optional().describe("Why the rule exists, for people and the audit trail."),
});
export type PolicyRule = z.infer<typeof PolicyRule>;

export const Budgets = z.strictObject({
  maxTurns: z.number().int().positive().default(20).describe("Model turns per session; past it the session escalates."),
  maxToolCalls: z.number().int().positive().default(40).describe("Tool calls per session, allowed or not."),
  maxMutations: z
    .number()
    .int()
    .nonnegative()
    .default(5)
    .describe("Changes (commands that modify something) per session."),
  maxTokens: z
    .number()
    .int()
    .positive()
    .default(200_000)
    .describe("Tokens per session: input, output, cache reads and cache writes together."),
  maxCostUSD: z.number().positive().default(2).describe("Estimated cost per session, in US dollars."),
  maxDuration: Duration.default("10m").describe("Wall-clock time per session."),
  toolTimeout: Duration.default("30s").describe("Time one tool call may take before it is killed."),
  outputCap: z
    .number()
    .int()
    .positive()
    .default(16_384)
    .describe("Bytes of a tool's output the model sees; the rest is cut."),
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
  rules: z.array(PolicyRule).default([]).describe("What the agent may run; unmatched commands are denied."),
  budgets: Budgets.default(Budgets.parse({})).describe("What one agent session may use before it escalates."),
  dryRun: z.boolean().default(false).describe("true: changes are recorded as they would run, and not run."),
  model: z
    .string()
    .optional()
    .describe("The Claude model for sessions under this policy; steward run --model when absent."),
  reads: z
    .enum(["target", "all"])
    .default("target")
    .describe(
      "What the read-only tools may read: target (the DesiredState's own compose project or selector, its namespace and selector) or all (every container on the Docker host, every object in the target's namespace).",
    ),
  endpoints: z
    .array(Endpoint)
    .max(64)
    .default([])
    .describe("Network endpoints shell commands may name besides those the target's members advertise."),
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

export const RemediationPolicy = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal("RemediationPolicy"),
    metadata: ObjectMeta,
    spec: RemediationPolicySpec.describe("The rules and budgets."),
  })
  .describe(
    "RemediationPolicy says what the agent may do and spend: rules over commands (allow, ask, deny) and per-session budgets.",
  );
export type RemediationPolicy = z.infer<typeof RemediationPolicy>;
