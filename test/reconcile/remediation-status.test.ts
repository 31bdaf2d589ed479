import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { ActionRecord, AgentRemediation, RemediationStatus } from "../../src/api/remediation.js";
import {
  applyStatusChange,
  RemediationStatusWriter,
  type RemediationStatusChange,
} from "../../src/reconcile/remediation-status.js";
import { emptyRemediationStatus } from "../../src/reconcile/remediations.js";
import type { EventRecorder, StewardEvent } from "../../src/store/events.js";
import { FileStore } from "../../src/store/file/file-store.js";
import { openRemediation } from "./fixtures.js";

const AT = "2026-11-24T10:00:00.000Z";
const open = (overrides: Partial<RemediationStatus> = {}): RemediationStatus => ({
  ...emptyRemediationStatus(),
  openedAt: AT,
  ...overrides,
});
const action = (overrides: Partial<ActionRecord> = {}): ActionRecord => ({
  id: "t1",
  tool: "docker_start",
  command: ["docker", "start", "etcd1"],
  decision: "allow",
  time: AT,
  ...overrides,
});
const pending = {
  id: "t1",
  tool: "docker_start",
  command: ["docker", "start", "etcd1"],
  reason: "ask",
  requestedAt: AT,
};

describe("applyStatusChange: what each change does to a remediation's status", () => {
  const cases: { name: string; before: RemediationStatus; change: RemediationStatusChange; expect: object }[] = [
    {
      name: "a session starts: attempt 1, investigating",
      before: open(),
      change: { type: "sessionStarted", sessionId: "S1", message: "m", at: AT },
      expect: {
        sessionId: "S1",
        phase: "Investigating",
        reason: "AgentInvestigating",
        attempts: [{ number: 1, startedAt: AT }],
      },
    },
    {
      name: "a change's Started record moves the session to Remediating and drops any pending approval",
      before: open({ phase: "AwaitingApproval", pendingApproval: [pending] }),
      change: { type: "actionStarted", action: action({ state: "Started" }), message: "running docker start etcd1" },
      expect: {
        phase: "Remediating",
        message: "running docker start etcd1",
        pendingApproval: [],
        actions: [action({ state: "Started" })],
      },
    },
    {
      name: "a change's outcome replaces its Started record",
      before: open({ phase: "Remediating", actions: [action({ state: "Started" })] }),
      change: { type: "actionRecorded", action: action({ state: "Finished", exitCode: 0 }) },
      expect: { actions: [action({ state: "Finished", exitCode: 0 })] },
    },
    {
      name: "changes left Started become Unknown; finished ones stay",
      before: open({
        phase: "Remediating",
        actions: [action({ id: "a", state: "Finished" }), action({ id: "b", state: "Started" })],
      }),
      change: { type: "outcomesUnknown", message: "stopped" },
      expect: {
        phase: "Investigating",
        reason: "ActionOutcomeUnknown",
        actions: [action({ id: "a", state: "Finished" }), action({ id: "b", state: "Unknown" })],
      },
    },
    {
      name: "the phase it is already in changes nothing, not even the message",
      before: open({ phase: "Investigating", message: "first" }),
      change: { type: "phase", phase: "Investigating", message: "second" },
      expect: { phase: "Investigating", message: "first" },
    },
    {
      name: "a verified attempt records its end, the summary and verifiedAt",
      before: open({ phase: "Verifying", attempts: [{ number: 1, startedAt: AT }] }),
      change: { type: "verification", attempt: 1, at: AT, cleared: true, details: "gone", summary: "started it" },
      expect: {
        attempts: [{ number: 1, startedAt: AT, finishedAt: AT, outcome: "Verified" }],
        summary: "started it",
        verifiedAt: AT,
      },
    },
    {
      name: "another attempt is recorded once, however often it starts (a resumed session)",
      before: open({
        phase: "Investigating",
        attempts: [
          { number: 1, startedAt: AT },
          { number: 2, startedAt: AT },
        ],
      }),
      change: { type: "attemptStarted", attempt: 2, at: "2026-11-24T10:05:00.000Z", message: "attempt 2" },
      expect: {
        attempts: [
          { number: 1, startedAt: AT },
          { number: 2, startedAt: "2026-11-24T10:05:00.000Z" },
        ],
      },
    },
    {
      name: "an escalated session keeps an earlier summary and closes",
      before: open({ phase: "Investigating", summary: "earlier", pendingApproval: [pending] }),
      change: { type: "sessionEnded", end: { type: "escalated", reason: "budget" }, at: AT },
      expect: {
        phase: "Escalated",
        reason: "Escalated",
        message: "budget",
        summary: "earlier",
        pendingApproval: [],
        closedAt: AT,
      },
    },
    {
      name: "a waiting reason changes the reason and message, never the phase",
      before: open(),
      change: { type: "waiting", reason: "Cooldown", message: "until 10:05" },
      expect: { phase: "Pending", reason: "Cooldown", message: "until 10:05" },
    },
    {
      name: "drift gone by itself: Resolved, DriftCleared",
      before: open({ phase: "AwaitingApproval" }),
      change: { type: "driftCleared", at: AT },
      expect: { phase: "Resolved", reason: "DriftCleared", closedAt: AT },
    },
    {
      name: "DesiredState deleted: Cancelled with the reason",
      before: open(),
      change: { type: "cancelled", reason: "DesiredStateDeleted", message: "DesiredState ds was deleted", at: AT },
      expect: { phase: "Cancelled", reason: "DesiredStateDeleted", closedAt: AT },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const after = applyStatusChange(c.before, c.change);
      const picked = Object.fromEntries(Object.keys(c.expect).map((k) => [k, after[k as keyof RemediationStatus]]));
      assert.deepEqual(picked, c.expect);
    });
  }
});

const remediation = (): AgentRemediation => openRemediation({});

class Events implements EventRecorder {
  readonly recorded: StewardEvent[] = [];
  record(_object: unknown, event: StewardEvent): void {
    this.recorded.push(event);
  }
}

describe("RemediationStatusWriter: the one writer of a remediation's status", () => {
  async function setup(): Promise<{ store: FileStore; writer: RemediationStatusWriter; events: Events }> {
    const store = new FileStore(await mkdtemp(join(tmpdir(), "steward-writer-")));
    await store.create(remediation());
    const events = new Events();
    return { store, writer: new RemediationStatusWriter(remediation(), { store, events }), events };
  }
  const stored = async (store: FileStore): Promise<AgentRemediation | undefined> =>
    store.get("AgentRemediation", { namespace: "default", name: "r" });

  it("writes each change to the store, on top of the one before", async () => {
    const { store, writer } = await setup();
    await writer.apply({ type: "sessionStarted", sessionId: "S1", message: "m", at: AT });
    await writer.apply({ type: "actionStarted", action: action({ state: "Started" }), message: "running" });
    const status = (await stored(store))?.status;
    assert.equal(status?.sessionId, "S1");
    assert.equal(status?.phase, "Remediating");
    assert.deepEqual(
      status?.actions.map((a) => a.state),
      ["Started"],
    );
    assert.deepEqual(writer.current, status);
  });

  it("changes made without waiting for each other land in call order, none lost", async () => {
    const { store, writer } = await setup();
    const usage = { inputTokens: 10, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0, estimatedCostUSD: 0.01 };
    await Promise.all([
      writer.apply({ type: "sessionStarted", sessionId: "S1", message: "m", at: AT }),
      writer.apply({ type: "usage", usage }),
      writer.apply({ type: "actionStarted", action: action({ state: "Started" }), message: "running" }),
      writer.apply({ type: "actionRecorded", action: action({ state: "Finished", exitCode: 0 }) }),
    ]);
    const status = (await stored(store))?.status;
    assert.equal(status?.sessionId, "S1");
    assert.deepEqual(status?.usage, usage);
    assert.deepEqual(
      status?.actions.map((a) => a.state),
      ["Finished"],
    );
    assert.deepEqual(writer.current, status);
  });

  it("a change that changes nothing is not written (no watch event, no resourceVersion)", async () => {
    const { store, writer } = await setup();
    await writer.apply({ type: "waiting", reason: "Cooldown", message: "until 10:05" });
    const version = (await stored(store))?.metadata.resourceVersion;
    await writer.apply({ type: "waiting", reason: "Cooldown", message: "until 10:05" });
    assert.equal((await stored(store))?.metadata.resourceVersion, version);
  });

  it("records the audit head it is given with the change", async () => {
    const { store, writer } = await setup();
    const head = { seq: 3, hash: "a".repeat(64) };
    await writer.apply(
      {
        type: "usage",
        usage: { inputTokens: 1, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0, estimatedCostUSD: 0 },
      },
      head,
    );
    assert.deepEqual((await stored(store))?.status?.auditHead, head);
  });

  it("every write carries the conditions of the status it writes (kubectl wait reads them)", async () => {
    const { store, writer } = await setup();
    const conditions = async (): Promise<string[]> =>
      ((await stored(store))?.status?.conditions ?? []).map((c) => `${c.type}=${c.status}@${c.observedGeneration}`);
    await writer.apply({ type: "awaitingApproval", pending, message: "docker start etcd1 waits" });
    assert.deepEqual(await conditions(), [
      "Ready=Unknown@1",
      "Resolved=Unknown@1",
      "AwaitingApproval=True@1",
      "Stalled=False@1",
      "Reconciling=True@1",
    ]);
    await writer.apply({ type: "sessionEnded", end: { type: "resolved", summary: "started etcd1" }, at: AT });
    assert.deepEqual(await conditions(), [
      "Ready=True@1",
      "Resolved=True@1",
      "AwaitingApproval=False@1",
      "Stalled=False@1",
      "Reconciling=False@1",
    ]);
  });

  it("Events: a phase change, and a change once its outcome is known (not while it is Started)", async () => {
    const { writer, events } = await setup();
    await writer.apply({
      type: "actionStarted",
      action: action({ state: "Started" }),
      message: "running docker start etcd1",
    });
    assert.deepEqual(
      events.recorded.map((e) => e.reason),
      ["Remediating"],
    );
    await writer.apply({ type: "actionRecorded", action: action({ state: "Finished", exitCode: 0 }) });
    await writer.apply({ type: "sessionEnded", end: { type: "interrupted", reason: "two crashes" }, at: AT });
    assert.deepEqual(
      events.recorded.map((e) => [e.type, e.reason, e.note]),
      [
        ["Normal", "Remediating", "running docker start etcd1"],
        ["Normal", "ActionExecuted", "docker start etcd1: ran"],
        ["Warning", "Interrupted", "two crashes"],
      ],
    );
  });
});
