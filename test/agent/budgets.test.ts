import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Budgets } from "../../src/api/policy.js";
import {
  FALLBACK_FAMILY,
  PRICING,
  estimateCostUSD,
  exceededBudget,
  modelFamily,
  totalTokens,
  type BudgetStep,
  type SessionCounters,
} from "../../src/agent/budgets.js";

const START = 1_700_000_000_000;

const counters = (over: Partial<SessionCounters> = {}): SessionCounters => ({
  turns: 0,
  toolCalls: 0,
  mutations: 0,
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  startedAtMs: START,
  ...over,
});

const near = (actual: number, expected: number): void => {
  assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} ≈ ${expected}`);
};

describe("estimateCostUSD", () => {
  // 1M input, 100k output, 200k cache writes, 2M cache reads.
  const usage = counters({
    inputTokens: 1_000_000,
    outputTokens: 100_000,
    cacheWriteTokens: 200_000,
    cacheReadTokens: 2_000_000,
  });
  const cases: [string, number][] = [
    ["claude-sonnet-4-5-20250929", 3 + 1.5 + 0.75 + 0.6],
    ["claude-3-5-sonnet-20241022", 3 + 1.5 + 0.75 + 0.6],
    ["claude-opus-4-1-20250805", 15 + 7.5 + 3.75 + 3],
    ["claude-haiku-4-5", 1 + 0.5 + 0.25 + 0.2],
    ["anthropic.claude-3-haiku-20240307-v1:0", 1 + 0.5 + 0.25 + 0.2],
    ["some-future-model", 15 + 7.5 + 3.75 + 3],
    ["", 15 + 7.5 + 3.75 + 3],
  ];
  for (const [model, expected] of cases) {
    it(`${JSON.stringify(model)}: $${expected.toFixed(2)}`, () => near(estimateCostUSD(model, usage), expected));
  }

  it("is zero for no usage", () => assert.equal(estimateCostUSD("claude-sonnet-4-5", counters()), 0));

  it("prices an unknown model as the most expensive known family, so it never under-counts", () => {
    assert.equal(modelFamily("gpt-x"), undefined);
    for (const table of Object.values(PRICING)) {
      for (const price of Object.values(table)) {
        for (const key of ["input", "output", "cacheWrite", "cacheRead"] as const) {
          assert.ok(table[FALLBACK_FAMILY][key] >= price[key]);
        }
      }
    }
  });

  it("prices each provider from its own table: Bedrock and Vertex at their regional price (10 % over Anthropic's list)", () => {
    const anthropic = estimateCostUSD("claude-sonnet-5-5", usage, "anthropic");
    near(anthropic, 3 + 1.5 + 0.75 + 0.6);
    near(estimateCostUSD("global.anthropic.claude-sonnet-5-5", usage, "bedrock"), anthropic * 1.1);
    near(estimateCostUSD("anthropic.claude-haiku-4-5-20251001-v1:0", usage, "bedrock"), (1 + 0.5 + 0.25 + 0.2) * 1.1);
    near(estimateCostUSD("claude-sonnet-5-5@20261001", usage, "vertex"), anthropic * 1.1);
  });

  it("does not take a word that merely starts with a family name for the family", () => {
    assert.equal(modelFamily("claude-sonnetx-1"), undefined);
  });
});

describe("exceededBudget: each budget below, at and above its limit", () => {
  const budgets = Budgets.parse({
    maxTurns: 5,
    maxToolCalls: 3,
    maxMutations: 2,
    maxTokens: 1000,
    maxCostUSD: 1,
    maxDuration: "10m",
  });
  type Case = [keyof Budgets, BudgetStep, (n: number) => Partial<SessionCounters>, number];
  const cases: Case[] = [
    ["maxTurns", "turn", (n) => ({ turns: n }), 5],
    ["maxToolCalls", "turn", (n) => ({ toolCalls: n }), 3],
    ["maxToolCalls", "toolCall", (n) => ({ toolCalls: n }), 3],
    ["maxMutations", "mutation", (n) => ({ mutations: n }), 2],
    [
      "maxTokens",
      "turn",
      (n) => ({ inputTokens: n - 30, outputTokens: 10, cacheReadTokens: 10, cacheWriteTokens: 10 }),
      1000,
    ],
    ["maxTokens", "mutation", (n) => ({ outputTokens: n }), 1000],
  ];
  for (const [budget, next, at, limit] of cases) {
    it(`${budget} before a ${next}: ${limit - 1} passes, ${limit} and ${limit + 1} stop`, () => {
      assert.equal(exceededBudget(counters(at(limit - 1)), budgets, START, { next }), undefined);
      for (const n of [limit, limit + 1]) {
        const hit = exceededBudget(counters(at(n)), budgets, START, { next });
        assert.equal(hit?.budget, budget);
        assert.match(hit?.message ?? "", new RegExp(`${n} of ${limit}`));
      }
    });
  }

  it("maxDuration: 9m59.999s passes, 10m and 11m stop", () => {
    const tenMinutes = 600_000;
    assert.equal(exceededBudget(counters(), budgets, START + tenMinutes - 1), undefined);
    assert.equal(exceededBudget(counters(), budgets, START + tenMinutes)?.budget, "maxDuration");
    assert.deepEqual(exceededBudget(counters(), budgets, START + 660_000), {
      budget: "maxDuration",
      message: "ran 11m of 10m",
    });
  });

  it("maxCostUSD at the model's price: below, at and above $1 on haiku (input at $1/M)", () => {
    const big = Budgets.parse({ maxCostUSD: 1, maxTokens: 10_000_000 });
    const options = { model: "claude-haiku-4-5" };
    assert.equal(exceededBudget(counters({ inputTokens: 999_999 }), big, START, options), undefined);
    assert.deepEqual(exceededBudget(counters({ inputTokens: 1_000_000 }), big, START, options), {
      budget: "maxCostUSD",
      message: "estimated $1.0000 of $1 spent",
    });
    assert.match(
      exceededBudget(counters({ inputTokens: 1_200_000 }), big, START, options)?.message ?? "",
      /\$1\.2000 of \$1/,
    );
  });

  it("maxCostUSD without a model uses the fallback price (five times sonnet's input price)", () => {
    const big = Budgets.parse({ maxCostUSD: 1, maxTokens: 10_000_000 });
    const usage = counters({ inputTokens: 100_000 });
    assert.equal(exceededBudget(usage, big, START, { model: "claude-sonnet-4-5" }), undefined);
    assert.equal(exceededBudget(usage, big, START)?.budget, "maxCostUSD");
  });
});

describe("exceededBudget: which counters each step checks", () => {
  const budgets = Budgets.parse({ maxTurns: 2, maxToolCalls: 3, maxMutations: 1 });

  it("maxToolCalls: 3 allows exactly three tool calls", () => {
    let c = counters();
    let ran = 0;
    while (!exceededBudget(c, budgets, START, { next: "toolCall" })) {
      ran += 1;
      c = { ...c, toolCalls: c.toolCalls + 1 };
    }
    assert.equal(ran, 3);
  });

  it("used-up mutations do not stop the next turn or a read-only tool call: the agent may still verify and resolve", () => {
    const c = counters({ mutations: 1 });
    assert.equal(exceededBudget(c, budgets, START), undefined);
    assert.equal(exceededBudget(c, budgets, START, { next: "toolCall" }), undefined);
    assert.equal(exceededBudget(c, budgets, START, { next: "mutation" })?.budget, "maxMutations");
  });

  it("maxMutations: 0 allows no mutation but does not stop the session", () => {
    const none = Budgets.parse({ maxMutations: 0 });
    assert.equal(exceededBudget(counters(), none, START), undefined);
    assert.equal(exceededBudget(counters(), none, START, { next: "mutation" })?.budget, "maxMutations");
  });

  it("the last turn's tool calls still run when maxTurns is reached", () => {
    const c = counters({ turns: 2 });
    assert.equal(exceededBudget(c, budgets, START)?.budget, "maxTurns");
    assert.equal(exceededBudget(c, budgets, START, { next: "toolCall" }), undefined);
  });

  it("duration, tokens and cost stop every kind of step", () => {
    const late = START + 3_600_000;
    for (const next of ["turn", "toolCall", "mutation"] as const) {
      assert.equal(exceededBudget(counters(), budgets, late, { next })?.budget, "maxDuration");
      assert.equal(exceededBudget(counters({ inputTokens: 200_000 }), budgets, START, { next })?.budget, "maxTokens");
      assert.equal(exceededBudget(counters({ outputTokens: 30_000 }), budgets, START, { next })?.budget, "maxCostUSD");
    }
  });

  it("totalTokens counts input, output, cache reads and cache writes", () => {
    assert.equal(
      totalTokens(counters({ inputTokens: 1, outputTokens: 20, cacheReadTokens: 300, cacheWriteTokens: 4000 })),
      4321,
    );
  });
});
