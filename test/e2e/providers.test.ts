import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { containerState, docker, ensureCluster } from "../../scripts/lib/cluster.js";
import { PRICING } from "../../src/agent/budgets.js";
import {
  POLICY_AUTO_START,
  startAgentScenario,
  TEST_AWS,
  TEST_VERTEX,
  waitForPhase,
  type AgentScenario,
} from "../support/agent-scenario.js";
import { lastToolResults, text, toolUse, type ScriptStep } from "../support/fake-anthropic.js";

const USAGE = { input_tokens: 1000, output_tokens: 100, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };

/** The seed's scenario: list, start the stopped member, resolve. */
function script(): ScriptStep[] {
  return [
    {
      content: [text("Listing the members."), toolUse("docker_ps", { all: true })],
      stop_reason: "tool_use",
      usage: USAGE,
    },
    (request) => {
      assert.match(lastToolResults(request)[0]?.text ?? "", /etcd1\s+exited/);
      return { content: [toolUse("docker_start", { container: "etcd1" })], stop_reason: "tool_use", usage: USAGE };
    },
    {
      content: [toolUse("resolve", { summary: "etcd1 was stopped; started it." })],
      stop_reason: "tool_use",
      usage: USAGE,
    },
  ];
}

describe("the same agent scenario on each provider, the real SDKs against their APIs faked at HTTP level", () => {
  let scenario: AgentScenario | undefined;

  afterEach(async () => {
    await scenario?.stop();
    scenario = undefined;
    await ensureCluster();
  });

  const cases: { provider?: "bedrock" | "vertex"; path: RegExp; auth: (s: AgentScenario) => RegExp; price: number }[] =
    [
      {
        path: /^\/v1\/messages$/,
        auth: () => /^Bearer test-key-not-secret$/,
        price: PRICING.anthropic["claude-sonnet-*"].input,
      },
      {
        provider: "bedrock",
        path: /^\/model\/global\.anthropic\.claude-sonnet-5-5\/invoke$/,
        auth: () =>
          new RegExp(
            `^AWS4-HMAC-SHA256 Credential=${TEST_AWS.accessKeyId}/\\d{8}/${TEST_AWS.region}/bedrock/aws4_request, SignedHeaders=`,
          ),
        price: PRICING.bedrock["claude-sonnet-*"].input,
      },
      {
        provider: "vertex",
        path: new RegExp(
          `^/v1/projects/${TEST_VERTEX.project}/locations/${TEST_VERTEX.region}/publishers/anthropic/models/claude-sonnet-5-5:rawPredict$`,
        ),
        auth: () => /^Bearer ya29\.fake-[0-9a-f]{24}$/,
        price: PRICING.vertex["claude-sonnet-*"].input,
      },
    ];

  for (const c of cases) {
    it(`${c.provider ?? "anthropic"}: the stopped member is started and the remediation is Resolved`, async () => {
      scenario = await startAgentScenario({
        mode: "auto",
        policy: POLICY_AUTO_START,
        script: script(),
        provider: c.provider,
      });
      await docker("stop", "-t", "1", "etcd1");
      const resolved = await waitForPhase(scenario.state, ["Resolved", "Escalated"], 60_000);
      assert.equal(resolved.status?.phase, "Resolved", resolved.status?.message);
      assert.equal(await containerState("etcd1"), "running");
      const { requests } = scenario.fake;
      assert.equal(requests.length, 3);
      for (const request of requests) {
        assert.equal(request.problem, undefined, "every request had the shape the platform accepts");
        assert.match(request.path, c.path);
        assert.match(String(request.headers.authorization), c.auth(scenario));
      }
      // The cost is priced from the provider's own table.
      const usage = resolved.status?.usage;
      assert.equal(usage?.inputTokens, 3000);
      const expected = (3000 * c.price + 300 * (c.price * 5)) / 1_000_000;
      assert.ok(Math.abs((usage?.estimatedCostUSD ?? 0) - expected) < 1e-9, `${usage?.estimatedCostUSD} ≈ ${expected}`);
    });
  }
});
