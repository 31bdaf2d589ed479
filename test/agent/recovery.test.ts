import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ActionRecord, RemediationStatus } from "../../src/api/remediation.js";
import { answerFromRecord, MAX_UNKNOWN_ACTIONS, recordedResult, recoverActions } from "../../src/agent/recovery.js";
import type { SessionState } from "../../src/agent/session.js";

const TIME = "2026-11-24T10:00:00.000Z";
const action = (id: string, overrides: Partial<ActionRecord> = {}): ActionRecord => ({
  id,
  tool: "docker_restart",
  command: ["docker", "restart", "etcd2"],
  decision: "allow",
  time: TIME,
  ...overrides,
});
const status = (actions: ActionRecord[], phase: RemediationStatus["phase"] = "Remediating"): RemediationStatus => ({
  phase,
  attempts: [{ number: 1, startedAt: TIME }],
  actions,
  pendingApproval: [],
  conditions: [],
  sessionId: "S1",
});

describe("recoverActions: changes a stopped Steward left half-done", () => {
  it("nothing Started: the status is left as it is", () => {
    const before = status([action("a", { state: "Finished", exitCode: 0 })], "Investigating");
    const recovery = recoverActions(before);
    assert.equal(recovery.status, before);
    assert.deepEqual(recovery.unknown, []);
    assert.equal(recovery.interrupt, undefined);
  });

  it("the first Started change becomes Unknown and the session goes on, investigating, with the reason", () => {
    const recovery = recoverActions(status([action("a", { state: "Started" })]));
    assert.deepEqual(
      recovery.unknown.map((a) => a.id),
      ["a"],
    );
    assert.equal(recovery.status.actions[0]?.state, "Unknown");
    assert.equal(recovery.status.actions[0]?.exitCode, undefined);
    assert.equal(recovery.status.phase, "Investigating");
    assert.equal(recovery.status.reason, "ActionOutcomeUnknown");
    assert.match(recovery.status.message ?? "", /docker restart etcd2.*outcome is unknown.*not run again/);
    assert.equal(recovery.interrupt, undefined);
  });

  it(`a second unknown outcome in one remediation (more than ${MAX_UNKNOWN_ACTIONS}) interrupts it, naming both changes`, () => {
    const recovery = recoverActions(
      status([
        action("a", { state: "Unknown" }),
        action("b", { state: "Started", command: ["docker", "start", "etcd1"] }),
      ]),
    );
    assert.deepEqual(
      recovery.unknown.map((a) => a.id),
      ["b"],
    );
    assert.match(recovery.interrupt ?? "", /2 changes.*docker restart etcd2; docker start etcd1.*check the system/);
  });

  it("finished changes and denials do not count towards the interruption", () => {
    const recovery = recoverActions(
      status([
        action("a", { state: "Finished", exitCode: 0 }),
        action("b", { decision: "deny" }),
        action("c", { exitCode: 1 }),
        action("d", { state: "Started" }),
      ]),
    );
    assert.equal(recovery.interrupt, undefined);
  });
});

describe("recordedResult: what the model is told about a call the record answers", () => {
  const cases: [string, ActionRecord | undefined, RegExp | undefined, boolean?][] = [
    ["no record: it never ran, so it runs normally", undefined, undefined],
    [
      "unknown outcome: not run again, re-observe",
      action("a", { state: "Unknown" }),
      /outcome is unknown, so it was not run again\. Re-observe/,
      true,
    ],
    [
      "finished: the exit code from the record",
      action("a", { state: "Finished", exitCode: 0 }),
      /ran before Steward restarted: exit code 0/,
      false,
    ],
    ["finished with a failure is an error", action("a", { state: "Finished", exitCode: 3 }), /exit code 3/, true],
    ["a record from before state existed reads as finished", action("a", { exitCode: 0 }), /exit code 0/, false],
    ["denied by a person", action("a", { decision: "deny", approver: "bob" }), /denied by bob; do not retry/, true],
    ["denied by the policy", action("a", { decision: "deny" }), /denied by policy/, true],
  ];
  for (const [name, record, text, isError] of cases) {
    it(name, () => {
      const result = recordedResult(record);
      if (!text) return assert.equal(result, undefined);
      assert.match(result?.content ?? "", text);
      assert.equal(result?.isError, isError);
    });
  }
});

describe("answerFromRecord: a resumed conversation's pending calls", () => {
  const state = (): SessionState => ({
    sessionId: "S1",
    model: "m",
    attempt: 1,
    nudges: 0,
    messages: [{ role: "user", content: "incident" }],
    counters: {
      turns: 1,
      toolCalls: 2,
      mutations: 1,
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      startedAtMs: 0,
    },
    pending: {
      toolUses: [
        { id: "a", name: "docker_restart", input: { container: "etcd2" } },
        { id: "b", name: "docker_ps", input: {} },
        { id: "c", name: "docker_start", input: { container: "etcd1" } },
      ],
      results: [],
      decisions: {},
    },
  });

  it("answers recorded calls, leaves unrecorded ones (never run) to run, and keeps existing results", () => {
    const s = state();
    s.pending?.results.push({ type: "tool_result", tool_use_id: "b", content: "NAME…" });
    const added = answerFromRecord(s, [action("a", { state: "Unknown" })]);
    assert.deepEqual(
      added.map((r) => [r.tool_use_id, r.is_error]),
      [["a", true]],
    );
    assert.deepEqual(
      s.pending?.results.map((r) => r.tool_use_id),
      ["b", "a"],
    );
  });

  it("no pending calls: nothing to answer", () => {
    const s = { ...state(), pending: undefined };
    assert.deepEqual(answerFromRecord(s, [action("a", { state: "Unknown" })]), []);
  });
});
