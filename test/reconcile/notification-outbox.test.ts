import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NotificationRecord } from "../../src/api/notifications.js";
import type { RemediationStatus } from "../../src/api/remediation.js";
import {
  MAX_NOTIFICATION_RECORDS,
  transitionEvent,
  withTransitionRecord,
} from "../../src/reconcile/notification-outbox.js";
import { emptyRemediationStatus } from "../../src/reconcile/remediations.js";

const NOW = new Date("2026-12-01T10:00:00.000Z");

function status(phase: RemediationStatus["phase"], over: Partial<RemediationStatus> = {}): RemediationStatus {
  return { ...emptyRemediationStatus(), phase, ...over };
}

const pending = (id: string, command: string[]): RemediationStatus["pendingApproval"][number] => ({
  id,
  tool: "docker_start",
  command,
  reason: "approve mode",
  requestedAt: NOW.toISOString(),
});

describe("transitionEvent: which status changes people are told of", () => {
  const cases: [string, RemediationStatus | undefined, RemediationStatus, string | undefined][] = [
    ["created: Opened", undefined, status("Pending"), "Opened"],
    ["Pending → Investigating: not told", status("Pending"), status("Investigating"), undefined],
    [
      "Investigating → AwaitingApproval",
      status("Investigating"),
      status("AwaitingApproval", { pendingApproval: [pending("t1", ["docker", "start", "etcd1"])] }),
      "AwaitingApproval",
    ],
    ["→ Escalated", status("Investigating"), status("Escalated"), "Escalated"],
    ["→ Failed", status("Remediating"), status("Failed"), "Failed"],
    ["→ Resolved", status("Verifying"), status("Resolved"), "Resolved"],
    ["Pending → Resolved (the drift cleared by itself)", status("Pending"), status("Resolved"), "Resolved"],
    ["→ Cancelled: not one of the five", status("Pending"), status("Cancelled"), undefined],
    ["→ Interrupted: not one of the five", status("Remediating"), status("Interrupted"), undefined],
    ["a write that keeps the phase: not told", status("Escalated"), status("Escalated", { message: "x" }), undefined],
    [
      "still AwaitingApproval, other calls pending: told again",
      status("AwaitingApproval", { pendingApproval: [pending("t1", ["docker", "start", "etcd1"])] }),
      status("AwaitingApproval", { pendingApproval: [pending("t2", ["docker", "restart", "etcd1"])] }),
      "AwaitingApproval",
    ],
    [
      "still AwaitingApproval, the same calls: not told again",
      status("AwaitingApproval", { pendingApproval: [pending("t1", ["docker", "start", "etcd1"])] }),
      status("AwaitingApproval", { pendingApproval: [pending("t1", ["docker", "start", "etcd1"])], reason: "x" }),
      undefined,
    ],
  ];
  for (const [name, before, after, expected] of cases) {
    it(name, () => assert.equal(transitionEvent(before, after), expected));
  }
});

describe("withTransitionRecord: the outbox record is written with the transition", () => {
  it("an AwaitingApproval record carries the pending commands, the reason and the message", () => {
    const after = status("AwaitingApproval", {
      reason: "ApprovalRequired",
      message: "docker start etcd1 waits for approval",
      pendingApproval: [pending("toolu_1", ["docker", "start", "etcd1"])],
    });
    const written = withTransitionRecord(status("Investigating"), after, NOW);
    assert.deepEqual(written.notifications, [
      {
        id: "AwaitingApproval-1",
        event: "AwaitingApproval",
        at: NOW.toISOString(),
        reason: "ApprovalRequired",
        message: "docker start etcd1 waits for approval",
        pending: [{ id: "toolu_1", command: "docker start etcd1" }],
      },
    ]);
  });

  it("keeps earlier records (from either side) and numbers on", () => {
    const opened = withTransitionRecord(undefined, status("Pending"), NOW);
    const escalated = withTransitionRecord(
      opened,
      { ...status("Escalated"), notifications: opened.notifications },
      NOW,
    );
    assert.deepEqual(
      escalated.notifications?.map((n) => n.id),
      ["Opened-1", "Escalated-2"],
    );
    // A writer that built `after` without the outbox does not lose it.
    const fromBefore = withTransitionRecord(opened, status("Resolved"), NOW);
    assert.deepEqual(
      fromBefore.notifications?.map((n) => n.id),
      ["Opened-1", "Resolved-2"],
    );
  });

  it("returns the status unchanged when nothing is to be told", () => {
    const after = status("Investigating");
    assert.equal(withTransitionRecord(status("Pending"), after, NOW), after);
  });

  it("keeps at most the limit, dropping the oldest", () => {
    const old = (n: number): NotificationRecord => ({ id: `Resolved-${n}`, event: "Resolved", at: NOW.toISOString() });
    const records = Array.from({ length: MAX_NOTIFICATION_RECORDS }, (_, i) => old(i + 1));
    const written = withTransitionRecord(
      status("Investigating", { notifications: records }),
      status("Escalated", { notifications: records }),
      NOW,
    );
    const ids = written.notifications?.map((n) => n.id) ?? [];
    assert.equal(ids.length, MAX_NOTIFICATION_RECORDS);
    assert.equal(ids[0], "Resolved-2");
    assert.equal(ids.at(-1), `Escalated-${MAX_NOTIFICATION_RECORDS + 1}`);
  });
});
