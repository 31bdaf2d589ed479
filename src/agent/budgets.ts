/**
 * What an agent session has spent, what that costs, and whether it may take another step.
 * Pure: the session owns the counters and the clock and passes them in.
 */
import { formatDuration, parseDuration } from "../api/duration.js";
import type { Budgets } from "../api/policy.js";
import type { Provider } from "./providers.js";

export interface SessionCounters {
  /** Model calls made. */
  turns: number;
  /** Tool calls the model made (counted whatever the policy decided). */
  toolCalls: number;
  /** Mutating tool calls that ran. */
  mutations: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  startedAtMs: number;
}

/** USD per million tokens. */
export interface ModelPrice {
  input: number;
  output: number;
  cacheWrite: number;
  cacheRead: number;
}

export type ModelFamily = "claude-opus-*" | "claude-sonnet-*" | "claude-haiku-*";

/**
 * Anthropic's list prices in USD per million tokens, per model family. These are list
 * prices as published; keep them current when prices change or a family gains a model with
 * a different price. Where a family's models differ, the table holds the highest current
 * price, so a budget is reached early rather than late: Opus 4.5 lists at 5/25 (so its
 * estimate is 3x high) and older Haiku models are cheaper than Haiku 4.5. Cache writes are
 * priced at the 5-minute TTL rate (1.25x input), which is what
 * `cache_control: {type: "ephemeral"}` buys.
 */
const ANTHROPIC_PRICING: Readonly<Record<ModelFamily, Readonly<ModelPrice>>> = {
  "claude-opus-*": { input: 15, output: 75, cacheWrite: 18.75, cacheRead: 1.5 },
  "claude-sonnet-*": { input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.3 },
  "claude-haiku-*": { input: 1, output: 5, cacheWrite: 1.25, cacheRead: 0.1 },
};

/**
 * Bedrock and Vertex AI list Claude at Anthropic's prices on their global endpoints and up
 * to 10 % above them on regional ones (a regional Bedrock model id or inference profile, a
 * Vertex region other than `global`). The tables hold the regional price, so a budget is
 * reached early rather than late wherever the model is served from.
 */
const REGIONAL_PREMIUM = 1.1;

function withPremium(table: Readonly<Record<ModelFamily, Readonly<ModelPrice>>>): Record<ModelFamily, ModelPrice> {
  const scaled = (p: ModelPrice): ModelPrice => ({
    input: p.input * REGIONAL_PREMIUM,
    output: p.output * REGIONAL_PREMIUM,
    cacheWrite: p.cacheWrite * REGIONAL_PREMIUM,
    cacheRead: p.cacheRead * REGIONAL_PREMIUM,
  });
  return {
    "claude-opus-*": scaled(table["claude-opus-*"]),
    "claude-sonnet-*": scaled(table["claude-sonnet-*"]),
    "claude-haiku-*": scaled(table["claude-haiku-*"]),
  };
}

/** The one pricing table, per provider (`steward run --provider`). */
export const PRICING: Readonly<Record<Provider, Readonly<Record<ModelFamily, Readonly<ModelPrice>>>>> = {
  anthropic: ANTHROPIC_PRICING,
  bedrock: withPremium(ANTHROPIC_PRICING),
  vertex: withPremium(ANTHROPIC_PRICING),
};

/** An unknown model is priced as the most expensive known family: a cost budget never under-counts. */
export const FALLBACK_FAMILY: ModelFamily = "claude-opus-*";

// `claude-sonnet-4-5-20250929` and the older `claude-3-5-sonnet-20241022` naming alike;
// also Bedrock's (`global.anthropic.claude-…-v1:0`) and Vertex's (`claude-…@20250929`).
const FAMILY = /claude-(?:[\d.-]+-)?(opus|sonnet|haiku)(?![a-z])/;

/** The pricing family of a model id; undefined if it is none of the known families. */
export function modelFamily(model: string): ModelFamily | undefined {
  const match = FAMILY.exec(model.toLowerCase());
  return match ? (`claude-${match[1]}-*` as ModelFamily) : undefined;
}

/** Estimated cost in USD of the tokens in `counters`, at `model`'s list price on `provider` (see PRICING). */
export function estimateCostUSD(
  model: string,
  counters: Readonly<SessionCounters>,
  provider: Provider = "anthropic",
): number {
  const price = PRICING[provider][modelFamily(model) ?? FALLBACK_FAMILY];
  const micro =
    counters.inputTokens * price.input +
    counters.outputTokens * price.output +
    counters.cacheWriteTokens * price.cacheWrite +
    counters.cacheReadTokens * price.cacheRead;
  return micro / 1_000_000;
}

/** All tokens the session has consumed: input, output, cache reads and cache writes. */
export function totalTokens(counters: Readonly<SessionCounters>): number {
  return counters.inputTokens + counters.outputTokens + counters.cacheReadTokens + counters.cacheWriteTokens;
}

/** The step about to be taken, which decides which counters are checked. */
export type BudgetStep = "turn" | "toolCall" | "mutation";

export interface BudgetOptions {
  /** The model, for maxCostUSD; without it the fallback (most expensive) price is used. */
  model?: string;
  /** Whose prices; default anthropic. */
  provider?: Provider;
  /** Default `turn`. */
  next?: BudgetStep;
}

export interface BudgetExceeded {
  budget: keyof Budgets;
  message: string;
}

type Check = (
  c: Readonly<SessionCounters>,
  b: Budgets,
  x: { nowMs: number; model: string | undefined; provider: Provider | undefined },
) => BudgetExceeded | undefined;

const reached = (budget: keyof Budgets, used: number, limit: number, what: string): BudgetExceeded | undefined =>
  used >= limit ? { budget, message: `${used} of ${limit} ${what} used` } : undefined;

const CHECKS: Record<"duration" | "tokens" | "cost" | "turns" | "toolCalls" | "mutations", Check> = {
  duration(c, b, x) {
    const limit = parseDuration(b.maxDuration);
    const elapsed = x.nowMs - c.startedAtMs;
    // An unparseable duration cannot pass the schema; if one gets here, fail closed.
    if (limit === undefined)
      return { budget: "maxDuration", message: `maxDuration ${JSON.stringify(b.maxDuration)} is not a duration` };
    return elapsed >= limit
      ? { budget: "maxDuration", message: `ran ${formatDuration(elapsed)} of ${b.maxDuration}` }
      : undefined;
  },
  tokens: (c, b) => reached("maxTokens", totalTokens(c), b.maxTokens, "tokens"),
  cost(c, b, x) {
    const cost = estimateCostUSD(x.model ?? "", c, x.provider);
    return cost >= b.maxCostUSD
      ? { budget: "maxCostUSD", message: `estimated $${cost.toFixed(4)} of $${b.maxCostUSD} spent` }
      : undefined;
  },
  turns: (c, b) => reached("maxTurns", c.turns, b.maxTurns, "turns"),
  toolCalls: (c, b) => reached("maxToolCalls", c.toolCalls, b.maxToolCalls, "tool calls"),
  mutations: (c, b) => reached("maxMutations", c.mutations, b.maxMutations, "mutations"),
};

const CHECKS_BEFORE: Record<BudgetStep, readonly (keyof typeof CHECKS)[]> = {
  turn: ["duration", "tokens", "cost", "turns", "toolCalls"],
  toolCall: ["duration", "tokens", "cost", "toolCalls"],
  mutation: ["duration", "tokens", "cost", "mutations"],
};

/**
 * Whether the session may take its next step. Call it BEFORE the step, with the counters
 * as they are before the step is counted. A budget is exceeded when its counter has
 * already reached the limit (`used >= limit`), so `maxToolCalls: 3` allows exactly three
 * tool calls and `maxMutations: 0` allows none. Which counters are checked depends on
 * `options.next`:
 * - `turn` (default), before a model call: maxDuration, maxTokens (input + output + cache
 *   reads + cache writes), maxCostUSD, maxTurns, and maxToolCalls (a turn whose tool calls
 *   cannot run would only spend tokens);
 * - `toolCall`, before running a tool call: maxDuration, maxTokens, maxCostUSD, maxToolCalls;
 * - `mutation`, before running a mutating call that has already been counted as a tool
 *   call: maxDuration, maxTokens, maxCostUSD, maxMutations.
 * maxMutations is deliberately not checked before a turn: a session that has used its
 * mutations may still investigate and resolve. maxCostUSD uses `options.model`'s price,
 * or the fallback (most expensive) price without one. Returns the first budget reached,
 * in the order listed, or undefined.
 */
export function exceededBudget(
  counters: Readonly<SessionCounters>,
  budgets: Budgets,
  nowMs: number,
  options: BudgetOptions = {},
): BudgetExceeded | undefined {
  const extra = { nowMs, model: options.model, provider: options.provider };
  for (const name of CHECKS_BEFORE[options.next ?? "turn"]) {
    const hit = CHECKS[name](counters, budgets, extra);
    if (hit) return hit;
  }
  return undefined;
}
