import type { RemediationPolicySpec } from "../api/policy.js";

/**
 * Where Claude is bought: the Anthropic API, Amazon Bedrock or Google Vertex AI. All three
 * speak the Messages API through the official SDKs (`@anthropic-ai/sdk`,
 * `@anthropic-ai/bedrock-sdk`, `@anthropic-ai/vertex-sdk`), so the agent loop is the same;
 * what differs is the endpoint, the credentials (an API key; the AWS chain; Google ADC),
 * the model ids and the prices.
 */
export const PROVIDERS = ["anthropic", "bedrock", "vertex"] as const;
export type Provider = (typeof PROVIDERS)[number];

/** The model a provider is asked for when neither --model nor a policy names one. */
export const DEFAULT_MODELS: Readonly<Record<Provider, string>> = {
  anthropic: "claude-sonnet-5-5",
  // A global cross-region inference profile: the ids of the bare models are per region.
  bedrock: "global.anthropic.claude-sonnet-5-5",
  vertex: "claude-sonnet-5-5",
};

/** The session's model: the policy's pin for this provider, else its `model`, else Steward's. */
export function modelFor(policy: RemediationPolicySpec, provider: Provider, configured: string): string {
  return policy.models?.[provider] ?? policy.model ?? configured;
}
