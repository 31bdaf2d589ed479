import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { containerState, docker, ensureCluster } from "../../scripts/lib/cluster.js";
import { startAgentScenario, waitForPhase, POLICY_AUTO_START, type AgentScenario } from "../support/agent-scenario.js";
import { lastToolResults, text, toolUse } from "../support/fake-anthropic.js";
import { metric, reconciles } from "../support/metrics.js";
import { listRemediations } from "../support/status.js";
import { cli, StewardProcess } from "../support/steward.js";
import { waitFor } from "../../scripts/lib/wait.js";

const USAGE = { input_tokens: 1200, output_tokens: 150, cache_read_input_tokens: 900, cache_creation_input_tokens: 0 };

describe("the agent on the real etcd cluster, with a scripted model", () => {
  let scenario: AgentScenario | undefined;

  afterEach(async () => {
    await scenario?.stop();
    scenario = undefined;
    await ensureCluster();
  });

  it("replays the seed's scenario: docker_ps → docker_start → query_prometheus → resolve → verified Resolved", async () => {
    scenario = await startAgentScenario({
      mode: "auto",
      policy: POLICY_AUTO_START,
      script: [
        {
          content: [
            text("I need to investigate the etcd cluster. Let me list the containers."),
            toolUse("docker_ps", { all: true }),
          ],
          stop_reason: "tool_use",
          usage: USAGE,
        },
        (request) => {
          assert.match(lastToolResults(request)[0]?.text ?? "", /etcd1\s+exited/);
          return {
            content: [text("etcd1 is stopped, I should start it."), toolUse("docker_start", { container: "etcd1" })],
            stop_reason: "tool_use",
            usage: USAGE,
          };
        },
        {
          content: [toolUse("query_prometheus", { query: 'count(up{job="etcd"} == 1)' })],
          stop_reason: "tool_use",
          usage: USAGE,
        },
        {
          content: [toolUse("resolve", { summary: "etcd1 was stopped; started it; all members up." })],
          stop_reason: "tool_use",
          usage: USAGE,
        },
      ],
    });
    const { state, fake } = scenario;
    await docker("stop", "-t", "1", "etcd1");
    const resolved = await waitForPhase(state, ["Resolved", "Escalated"], 45_000);
    assert.equal(resolved.status?.phase, "Resolved", resolved.status?.message);
    assert.ok(resolved.status?.verifiedAt, "verifiedAt is set");
    assert.equal(await containerState("etcd1"), "running");
    assert.match(resolved.status?.sessionId ?? "", /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-[0-9a-f]{8}$/);
    assert.deepEqual(
      resolved.status?.actions.map((a) => [a.command.join(" "), a.decision, a.exitCode]),
      [["docker start etcd1", "allow", 0]],
    );
    assert.equal(resolved.status?.usage?.inputTokens, 4 * 1200);
    assert.ok((resolved.status?.usage?.estimatedCostUSD ?? 0) > 0);
    assert.equal(fake.requests.length, 4);
    assert.equal(await metric(scenario.steward, "steward_agent_tokens_total", '{type="input"}'), 4800);
    assert.equal(await metric(scenario.steward, "steward_agent_session_runs_total", '{outcome="resolved"}'), 1);

    // The prompt prefix is byte-identical across turns and carries cache_control.
    const [first, second] = fake.requests.map((r) => r.body ?? assert.fail("a request failed the shape checks"));
    assert.deepEqual(first?.system, second?.system);
    assert.deepEqual(first?.tools, second?.tools);
    assert.ok(JSON.stringify(first?.system).includes('"cache_control":{"type":"ephemeral"}'));
    assert.ok(JSON.stringify(first?.tools).includes('"cache_control":{"type":"ephemeral"}'));
    assert.match(JSON.stringify(first?.messages[0]), /etcd1/, "the incident is in the first user message");

    const logs = await cli(state, "logs", resolved.metadata.name);
    assert.equal(logs.code, 0, logs.stderr);
    const order = [
      "I need to investigate",
      "docker_ps",
      "etcd1 is stopped",
      "docker_start",
      "query_prometheus",
      "verification",
    ];
    let at = -1;
    for (const needle of order) {
      const next = logs.stdout.indexOf(needle, at + 1);
      assert.ok(next > at, `"${needle}" after the previous step in:\n${logs.stdout}`);
      at = next;
    }
    const verified = await cli(state, "audit", "verify", resolved.metadata.name);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /entries, hash chain intact/);
  });

  it("does not believe a model that claims success while the member is still down: another attempt, then Escalated", async () => {
    scenario = await startAgentScenario({
      mode: "auto",
      policy: POLICY_AUTO_START,
      maxAttempts: 2,
      script: [
        { content: [toolUse("resolve", { summary: "all good" })], stop_reason: "tool_use", usage: USAGE },
        (request) => {
          const result = lastToolResults(request)[0];
          assert.equal(result?.isError, true);
          assert.match(result?.text ?? "", /drift is NOT gone.*container\/etcd1/s);
          return {
            content: [toolUse("resolve", { summary: "really all good" })],
            stop_reason: "tool_use",
            usage: USAGE,
          };
        },
      ],
    });
    await docker("stop", "-t", "1", "etcd1");
    const escalated = await waitForPhase(scenario.state, ["Resolved", "Escalated"], 45_000);
    assert.equal(escalated.status?.phase, "Escalated");
    assert.match(escalated.status?.message ?? "", /did not verify after 2 attempts/);
    assert.equal(escalated.status?.attempts.length, 2);
    assert.equal(await containerState("etcd1"), "exited");
    assert.equal(escalated.status?.verifiedAt, undefined);
  });

  it("approve mode: the start waits for a person, survives a restart of Steward, and runs once approved", async () => {
    scenario = await startAgentScenario({
      mode: "approve",
      script: [
        {
          content: [
            text("etcd1 is down; starting it."),
            toolUse("docker_start", { container: "etcd1" }, "toolu_start1"),
          ],
          stop_reason: "tool_use",
          usage: USAGE,
        },
        (request) => {
          assert.match(lastToolResults(request)[0]?.text ?? "", /etcd1/);
          return {
            content: [toolUse("resolve", { summary: "started etcd1 after approval" })],
            stop_reason: "tool_use",
            usage: USAGE,
          };
        },
      ],
    });
    const { state } = scenario;
    await docker("stop", "-t", "1", "etcd1");
    const awaiting = await waitForPhase(state, ["AwaitingApproval"]);
    assert.deepEqual(
      awaiting.status?.pendingApproval.map((p) => [p.id, p.command.join(" ")]),
      [["toolu_start1", "docker start etcd1"]],
    );
    assert.equal(await containerState("etcd1"), "exited", "nothing ran before the approval");

    // Restart Steward: the remediation still waits, the conversation is kept.
    await scenario.steward.stop();
    const restarted = new StewardProcess(state, ["--verify-timeout", "3s"], {
      ANTHROPIC_API_KEY: "test-key-not-secret",
      ANTHROPIC_BASE_URL: scenario.fake.baseURL,
    });
    await restarted.start();
    scenario.steward = restarted;
    // The restarted Steward looks at the remediation (its initial list), sees no decision, and
    // leaves it. Its counters start at zero: one finished reconcile is that look.
    await waitFor(
      async () => (await reconciles(restarted, "remediation")) >= 1,
      30_000,
      "the restarted Steward's first remediation reconcile",
    );
    assert.equal((await listRemediations(state))[0]?.status?.phase, "AwaitingApproval");
    assert.equal(scenario.fake.requests.length, 1, "no model call while waiting");

    const approved = await cli(state, "approve", awaiting.metadata.name, "--as", "alice");
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, /approved: toolu_start1 \(docker start etcd1\)/);
    const resolved = await waitForPhase(state, ["Resolved", "Escalated"], 45_000);
    assert.equal(resolved.status?.phase, "Resolved", resolved.status?.message);
    assert.deepEqual(
      resolved.status?.actions.map((a) => [a.command.join(" "), a.decision, a.approver]),
      [["docker start etcd1", "ask", "alice"]],
    );
    assert.equal(scenario.fake.requests.length, 2, "the conversation continued where it stopped");
    assert.match((await cli(state, "logs", resolved.metadata.name)).stdout, /approved by alice/);
  });

  it("approve mode: a denial is told to the model, which escalates", async () => {
    scenario = await startAgentScenario({
      mode: "approve",
      script: [
        { content: [toolUse("docker_start", { container: "etcd1" })], stop_reason: "tool_use", usage: USAGE },
        (request) => {
          assert.match(lastToolResults(request)[0]?.text ?? "", /denied by bob: maintenance window/);
          return {
            content: [toolUse("escalate", { reason: "a person denied the start; leaving it to them" })],
            stop_reason: "tool_use",
            usage: USAGE,
          };
        },
      ],
    });
    await docker("stop", "-t", "1", "etcd1");
    const awaiting = await waitForPhase(scenario.state, ["AwaitingApproval"]);
    const denied = await cli(
      scenario.state,
      "deny",
      awaiting.metadata.name,
      "--as",
      "bob",
      "--reason",
      "maintenance window",
    );
    assert.equal(denied.code, 0, denied.stderr);
    const escalated = await waitForPhase(scenario.state, ["Escalated", "Resolved"]);
    assert.equal(escalated.status?.phase, "Escalated");
    assert.match(escalated.status?.message ?? "", /a person denied the start/);
    assert.equal(await containerState("etcd1"), "exited");
  });

  it("storms: with --max-sessions 1 a second remediation waits Pending until the first session ends", async () => {
    let releaseFirst: () => void = () => undefined;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    scenario = await startAgentScenario({
      mode: "auto",
      extraArgs: ["--max-sessions", "1"],
      script: [
        async () => {
          await firstHeld;
          return { content: [toolUse("escalate", { reason: "first" })], stop_reason: "tool_use", usage: USAGE };
        },
        { content: [toolUse("escalate", { reason: "second" })], stop_reason: "tool_use", usage: USAGE },
      ],
    });
    const { state } = scenario;
    await docker("stop", "-t", "1", "etcd1", "etcd2");
    const both = await waitFor(
      async () => {
        const list = await listRemediations(state);
        return list.length === 2 && list.some((r) => r.status?.phase === "Investigating") ? list : undefined;
      },
      20_000,
      "two remediations, one of them investigating",
    );
    // While the first session runs (its reconcile has not ended), every finished remediation
    // reconcile is one of the second: it found no free slot and left it Pending.
    const steward = scenario.steward;
    await waitFor(
      async () => (await reconciles(steward, "remediation")) >= 1,
      20_000,
      "the second remediation reconciled while the first session runs",
    );
    assert.equal(await metric(steward, "steward_agent_sessions_running"), 1);
    const phases = (await listRemediations(state)).map((r) => r.status?.phase).sort();
    assert.deepEqual(
      phases,
      ["Investigating", "Pending"],
      `one session at a time: ${JSON.stringify(both.map((r) => r.status?.phase))}`,
    );
    assert.equal(scenario.fake.requests.length, 1);
    releaseFirst();
    await waitFor(
      async () => (await listRemediations(state)).every((r) => r.status?.phase === "Escalated"),
      30_000,
      "both sessions done, one after the other",
    );
    assert.equal(scenario.fake.requests.length, 2);
  });
});
