import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DesiredState } from "../../src/api/desired-state.js";
import { AgentRemediation, type RemediationStatus } from "../../src/api/remediation.js";
import { handoverState, pendingCall, sessionStart } from "../../src/agent/handover.js";
import type { SessionState } from "../../src/agent/session.js";
import { DOCKER_TOOLS, KUBERNETES_TOOLS } from "../../src/agent/toolsets.js";

const NOW = new Date("2026-11-24T10:00:00.000Z");

const desiredState = DesiredState.parse({
  apiVersion: "steward.dev/v1alpha1",
  kind: "DesiredState",
  metadata: { name: "etcd", namespace: "default" },
  spec: { target: { docker: { project: "etcd" } }, services: [{ name: "etcd1" }], remediation: { simpleFixes: [] } },
});

function remediation(status: Partial<RemediationStatus> | undefined): AgentRemediation {
  return AgentRemediation.parse({
    apiVersion: "steward.dev/v1alpha1",
    kind: "AgentRemediation",
    metadata: { name: "etcd-etcd1-abc123", namespace: "default" },
    spec: {
      desiredStateRef: { name: "etcd" },
      fingerprint: "etcd/ContainerStopped/container/etcd1",
      reason: "SimpleFixDisabled",
      drift: [
        {
          type: "ContainerStopped",
          subject: "container/etcd1",
          expected: "running",
          observed: "exited",
          since: NOW.toISOString(),
        },
      ],
      mode: "approve",
    },
    status,
  });
}

/** The first user message, which handoverState always writes as a string. */
function firstMessage(state: SessionState): string {
  const content = state.messages[0]?.content;
  assert.equal(typeof content, "string");
  return content as string;
}

const saved = (sessionId: string): SessionState => ({
  sessionId,
  model: "claude-sonnet-5-5",
  attempt: 1,
  messages: [{ role: "user", content: "incident" }],
  counters: {
    turns: 1,
    toolCalls: 1,
    mutations: 0,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    startedAtMs: 0,
  },
  nudges: 0,
});

const waiting = {
  phase: "AwaitingApproval" as const,
  sessionId: "S1",
  attempts: [{ number: 1, startedAt: "2026-11-24T09:58:00.000Z" }],
  pendingApproval: [
    {
      id: "toolu_1",
      tool: "docker_start",
      command: ["docker", "start", "etcd1"],
      reason: "mode approve",
      requestedAt: "2026-11-24T09:59:00.000Z",
    },
  ],
  usage: { inputTokens: 1_000, outputTokens: 100, cacheReadTokens: 0, cacheWriteTokens: 0, estimatedCostUSD: 0.01 },
};

describe("sessionStart: resume, begin or hand over", () => {
  const cases: [string, Partial<RemediationStatus> | undefined, SessionState | undefined, string][] = [
    ["a new remediation begins", undefined, undefined, "begin"],
    ["Pending without a session begins", { phase: "Pending" }, undefined, "begin"],
    [
      "the saved conversation the status names is resumed (a restart of the same replica)",
      waiting,
      saved("S1"),
      "resume",
    ],
    ["in progress here without its conversation (it ran on another replica): handover", waiting, undefined, "handover"],
    [
      "a stale conversation of an older session (another replica continued since): handover, never resumed",
      waiting,
      saved("S0"),
      "handover",
    ],
    [
      "Investigating without its conversation: handover",
      { phase: "Investigating", sessionId: "S1" },
      undefined,
      "handover",
    ],
    [
      "Remediating without its conversation: handover",
      { phase: "Remediating", sessionId: "S1" },
      undefined,
      "handover",
    ],
    [
      "a leftover file for a remediation that never started a session: begin",
      { phase: "Pending" },
      saved("S9"),
      "begin",
    ],
  ];
  for (const [name, status, state, expected] of cases) {
    it(name, () => assert.equal(sessionStart(remediation(status), state).type, expected));
  }
});

describe("pendingCall: the call a pending approval stands for", () => {
  it("rebuilds a typed tool's input from its argv", () => {
    assert.deepEqual(pendingCall(waiting.pendingApproval[0]!, DOCKER_TOOLS), {
      id: "toolu_1",
      name: "docker_start",
      input: { container: "etcd1" },
    });
  });

  it("rebuilds a shell call", () => {
    const pending = { ...waiting.pendingApproval[0]!, tool: "shell", command: ["etcdctl", "member", "remove", "x"] };
    assert.deepEqual(pendingCall(pending, DOCKER_TOOLS)?.input, { argv: ["etcdctl", "member", "remove", "x"] });
  });

  it("rebuilds the Kubernetes tools' calls", () => {
    const call = (tool: string, command: string[]): unknown =>
      pendingCall({ ...waiting.pendingApproval[0]!, tool, command }, KUBERNETES_TOOLS)?.input;
    assert.deepEqual(call("kube_scale", ["kubectl", "scale", "deployment/web", "--replicas=3"]), {
      workload: "deployment/web",
      replicas: 3,
    });
    assert.deepEqual(call("kube_rollout_restart", ["kubectl", "rollout", "restart", "deployment/web"]), {
      workload: "deployment/web",
    });
    assert.deepEqual(call("kube_delete_pod", ["kubectl", "delete", "pod", "web-7d9f-abcde"]), {
      pod: "web-7d9f-abcde",
    });
  });

  it("refuses an input that would not run exactly the approved argv", () => {
    const pending = { ...waiting.pendingApproval[0]!, command: ["docker", "start", "--attach", "etcd1"] };
    assert.equal(pendingCall(pending, DOCKER_TOOLS), undefined);
  });

  it("an unknown tool cannot be rebuilt", () => {
    assert.equal(pendingCall({ ...waiting.pendingApproval[0]!, tool: "docker_rm" }, DOCKER_TOOLS), undefined);
  });
});

describe("handoverState: a new conversation from what the status records", () => {
  const input = { model: "claude-sonnet-5-5", outputCap: 16_384, now: NOW };

  it("puts the call awaiting approval back as the model's pending tool call, with its id", () => {
    const state = handoverState(remediation(waiting), desiredState, input);
    assert.notEqual(state.sessionId, "S1");
    assert.deepEqual(state.pending?.toolUses, [{ id: "toolu_1", name: "docker_start", input: { container: "etcd1" } }]);
    assert.deepEqual(
      state.messages.map((m) => m.role),
      ["user", "assistant"],
    );
    assert.match(firstMessage(state), /another Steward replica, which stopped/);
    assert.match(firstMessage(state), /toolu_1 \(docker start etcd1\) was waiting for a person's approval/);
  });

  it("carries the budgets' spend: tokens, mutations that ran, the session's start", () => {
    const actions = [
      {
        id: "t0",
        tool: "docker_restart",
        command: ["docker", "restart", "etcd1"],
        decision: "allow" as const,
        exitCode: 0,
        time: "2026-11-24T09:58:30.000Z",
      },
      {
        id: "t1",
        tool: "shell",
        command: ["rm", "-rf", "/"],
        decision: "deny" as const,
        time: "2026-11-24T09:58:40.000Z",
      },
    ];
    const state = handoverState(remediation({ ...waiting, actions }), desiredState, input);
    assert.equal(state.counters.mutations, 1);
    assert.equal(state.counters.inputTokens, 1_000);
    assert.equal(state.counters.startedAtMs, Date.parse("2026-11-24T09:58:00.000Z"));
    assert.equal(state.attempt, 1);
    assert.match(firstMessage(state), /docker restart etcd1 — ran, exit code 0/);
    assert.match(firstMessage(state), /rm -rf \/ — denied, not run/);
  });

  it("a step in flight (Remediating) is reported as maybe done, and nothing is pending", () => {
    const state = handoverState(
      remediation({
        phase: "Remediating",
        sessionId: "S1",
        message: "running docker start etcd1",
        attempts: [{ number: 2, startedAt: NOW.toISOString() }],
      }),
      desiredState,
      input,
    );
    assert.equal(state.pending, undefined);
    assert.equal(state.attempt, 2);
    assert.match(firstMessage(state), /Last recorded step: Remediating: running docker start etcd1/);
    assert.match(firstMessage(state), /may or may not have run/);
  });

  it("a change whose outcome is unknown (its idempotency record never finished) is reported as not run again, and counts as a mutation", () => {
    const actions = [
      {
        id: "t0",
        tool: "docker_restart",
        command: ["docker", "restart", "etcd1"],
        decision: "allow" as const,
        state: "Unknown" as const,
        time: "2026-11-24T09:58:30.000Z",
      },
    ];
    const state = handoverState(
      remediation({
        phase: "Investigating",
        sessionId: "S1",
        actions,
        attempts: [{ number: 1, startedAt: NOW.toISOString() }],
      }),
      desiredState,
      input,
    );
    assert.equal(state.pending, undefined);
    assert.equal(state.counters.mutations, 1);
    assert.match(
      firstMessage(state),
      /docker restart etcd1 — started; Steward stopped while it ran, so its outcome is unknown \(it was not run again\)/,
    );
  });

  it("a pending call that cannot be rebuilt is not run; the model is told to ask again", () => {
    const pending = [{ ...waiting.pendingApproval[0]!, command: ["docker", "start", "--attach", "etcd1"] }];
    const state = handoverState(remediation({ ...waiting, pendingApproval: pending }), desiredState, input);
    assert.equal(state.pending, undefined);
    assert.match(firstMessage(state), /was waiting for approval and was not run/);
  });
});
