import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DeliveryLedger, NotificationRecord } from "../../src/api/notifications.js";
import {
  applyOutcome,
  dueDeliveries,
  expand,
  nextDueInMs,
  pendingCount,
  sinkId,
  sinksFor,
  type SendOutcome,
} from "../../src/notify/deliveries.js";
import { AT, awaiting, policy, remediation } from "./fixtures.js";

const NOW = new Date(AT);
const file = { file: "/etc/steward/url" };

describe("sinksFor: which sinks a transition goes to", () => {
  const policies = [
    policy({
      sinks: [
        { name: "all", webhook: { url: file } },
        { name: "approvals", slack: { webhookURL: file }, events: ["AwaitingApproval"] },
        { name: "pager", pagerduty: { routingKey: file } },
        { name: "info-only", webhook: { url: file }, severities: ["info"] },
      ],
    }),
    policy({ desiredStates: ["other"], sinks: [{ name: "other-team", webhook: { url: file } }] }, "other"),
    policy({ sinks: [{ name: "elsewhere", webhook: { url: file } }] }, "ns2", "ns2"),
  ];
  const names = (
    event: NotificationRecord["event"],
    severity: "info" | "warning" | "critical" = "critical",
  ): string[] => sinksFor({ ...awaiting, event }, remediation({ severity }), policies).map(sinkId);

  it("by event (PagerDuty by default: Escalated, Failed, Resolved), severity, DesiredState and namespace", () => {
    assert.deepEqual(names("AwaitingApproval"), ["oncall/all", "oncall/approvals"]);
    assert.deepEqual(names("Opened"), ["oncall/all"]);
    assert.deepEqual(names("Escalated"), ["oncall/all", "oncall/pager"]);
    assert.deepEqual(names("Resolved"), ["oncall/all", "oncall/pager"]);
    assert.deepEqual(names("Opened", "info"), ["oncall/all", "oncall/info-only"]);
  });
});

describe("the delivery ledger of a remediation's records", () => {
  const records: NotificationRecord[] = [{ id: "Opened-1", event: "Opened", at: AT }, awaiting];
  const both = (): string[] => ["oncall/a", "oncall/b"];
  const ledger = expand(records, {}, both);
  const states = (l: DeliveryLedger): Record<string, string[]> =>
    Object.fromEntries(
      Object.entries(l).map(([id, sinks]) => [
        id,
        Object.entries(sinks).map(([sink, d]) => `${sink}:${d.state}:${d.attempts}`),
      ]),
    );

  it("expand chooses sinks once per record; a record no sink wants is settled with none; gone records leave", () => {
    assert.deepEqual(states(ledger), {
      "Opened-1": ["oncall/a:Pending:0", "oncall/b:Pending:0"],
      "AwaitingApproval-2": ["oncall/a:Pending:0", "oncall/b:Pending:0"],
    });
    assert.equal(
      expand(records, ledger, () => ["other/x"]),
      ledger,
      "already chosen: unchanged",
    );
    const none = expand(records, {}, () => []);
    assert.deepEqual(none, { "Opened-1": {}, "AwaitingApproval-2": {} });
    assert.equal(pendingCount(records, none), 0);
    assert.equal(pendingCount(records, {}), 2, "records whose sinks are not chosen yet count as pending");
    assert.deepEqual(Object.keys(expand(records.slice(1), ledger, both)), ["AwaitingApproval-2"]);
  });

  it("per sink, records go out in order: the later record waits for the earlier one", () => {
    assert.deepEqual(
      dueDeliveries(records, ledger, NOW).map((d) => `${d.record.id}→${d.sink}`),
      ["Opened-1→oncall/a", "Opened-1→oncall/b"],
    );
    const aDone = applyOutcome(
      ledger,
      { recordId: "Opened-1", sink: "oncall/a", maxAttempts: 3 },
      { type: "delivered" },
      { now: NOW },
    );
    assert.deepEqual(
      dueDeliveries(records, aDone, NOW).map((d) => `${d.record.id}→${d.sink}`),
      ["Opened-1→oncall/b", "AwaitingApproval-2→oncall/a"],
    );
  });

  const target = { recordId: "Opened-1", sink: "oncall/a", maxAttempts: 3 };
  const retry: SendOutcome = { type: "retry", error: "HTTP 503" };
  const delivery = (l: DeliveryLedger): unknown => l["Opened-1"]?.["oncall/a"];

  it("a failure is retried after the backoff (1 s, then up to 2 s…, full jitter over a 1 s floor), or the sink's Retry-After when longer", () => {
    const once = applyOutcome(ledger, target, retry, { now: NOW, random: () => 0.75 });
    assert.deepEqual(delivery(once), {
      state: "Pending",
      attempts: 1,
      lastError: "HTTP 503",
      nextAttemptAt: "2026-12-01T10:00:01.000Z",
    });
    const twice = applyOutcome(once, target, retry, { now: NOW, random: () => 0.75 });
    assert.equal((delivery(twice) as { nextAttemptAt: string }).nextAttemptAt, "2026-12-01T10:00:01.500Z");
    const retryAfter = applyOutcome(
      ledger,
      target,
      { ...retry, retryAfterMs: 30_000 },
      { now: NOW, random: () => 0.5 },
    );
    assert.equal((delivery(retryAfter) as { nextAttemptAt: string }).nextAttemptAt, "2026-12-01T10:00:30.000Z");
    assert.equal(nextDueInMs(retryAfter, NOW), 0, "sink b is still due now");
    assert.deepEqual(
      dueDeliveries(records, once, NOW).map((d) => d.sink),
      ["oncall/b"],
      "a is not due until its next attempt",
    );
  });

  it("dead-lettered after maxAttempts, with the last error; at once on a permanent failure", () => {
    let l = ledger;
    for (let i = 0; i < 3; i++) l = applyOutcome(l, target, retry, { now: NOW });
    assert.deepEqual(delivery(l), { state: "DeadLettered", attempts: 3, lastError: "HTTP 503" });
    const permanent = applyOutcome(ledger, target, { type: "permanent", error: "HTTP 404: no_service" }, { now: NOW });
    assert.deepEqual(delivery(permanent), { state: "DeadLettered", attempts: 1, lastError: "HTTP 404: no_service" });
  });

  it("delivered once acknowledged: the delivery is settled and a late outcome changes nothing", () => {
    const failed = applyOutcome(ledger, target, retry, { now: NOW });
    const done = applyOutcome(failed, target, { type: "delivered" }, { now: NOW });
    assert.deepEqual(delivery(done), { state: "Delivered", attempts: 2, deliveredAt: AT });
    assert.equal(applyOutcome(done, target, retry, { now: NOW }), done);
  });
});
