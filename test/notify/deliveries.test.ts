import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RemediationStatus } from "../../src/api/remediation.js";
import {
  applyOutcome,
  dueDeliveries,
  expand,
  nextDueInMs,
  pendingCount,
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
  const names = (event: typeof awaiting.event, severity: "info" | "warning" | "critical" = "critical"): string[] =>
    sinksFor({ ...awaiting, event }, remediation({ severity }), policies).map(
      (r) => `${r.policy.metadata.name}/${r.sink.name}`,
    );

  it("by event (PagerDuty by default: Escalated, Failed, Resolved), severity, DesiredState and namespace", () => {
    assert.deepEqual(names("AwaitingApproval"), ["oncall/all", "oncall/approvals"]);
    assert.deepEqual(names("Opened"), ["oncall/all"]);
    assert.deepEqual(names("Escalated"), ["oncall/all", "oncall/pager"]);
    assert.deepEqual(names("Resolved"), ["oncall/all", "oncall/pager"]);
    assert.deepEqual(names("Opened", "info"), ["oncall/all", "oncall/info-only"]);
  });
});

describe("the delivery lifecycle of a record", () => {
  const policies = [
    policy({
      sinks: [
        { name: "a", webhook: { url: file } },
        { name: "b", webhook: { url: file } },
      ],
    }),
  ];
  const base: RemediationStatus = {
    ...(remediation().status ?? assert.fail()),
    notifications: [{ id: "Opened-1", event: "Opened", at: AT }, awaiting],
  };
  const expanded = expand(base, remediation(), policies);

  it("expand chooses sinks once; a record no sink wants is settled with none", () => {
    assert.deepEqual(
      expanded.notifications?.map((n) => n.deliveries?.map((d) => `${d.sink}:${d.state}:${d.attempts}`)),
      [
        ["oncall/a:Pending:0", "oncall/b:Pending:0"],
        ["oncall/a:Pending:0", "oncall/b:Pending:0"],
      ],
    );
    assert.equal(expand(expanded, remediation(), []), expanded, "already chosen: unchanged");
    const none = expand(base, remediation(), []);
    assert.deepEqual(
      none.notifications?.map((n) => n.deliveries),
      [[], []],
    );
    assert.equal(pendingCount(none), 0);
    assert.equal(pendingCount(base), 2);
  });

  it("per sink, records go out in order: the later record waits for the earlier one", () => {
    assert.deepEqual(
      dueDeliveries(expanded, NOW).map((d) => `${d.record.id}→${d.delivery.sink}`),
      ["Opened-1→oncall/a", "Opened-1→oncall/b"],
    );
    const aDone = applyOutcome(
      expanded,
      { recordId: "Opened-1", sink: "oncall/a", maxAttempts: 3 },
      { type: "delivered" },
      { now: NOW },
    );
    assert.deepEqual(
      dueDeliveries(aDone, NOW).map((d) => `${d.record.id}→${d.delivery.sink}`),
      ["Opened-1→oncall/b", "AwaitingApproval-2→oncall/a"],
    );
  });

  const target = { recordId: "Opened-1", sink: "oncall/a", maxAttempts: 3 };
  const retry: SendOutcome = { type: "retry", error: "HTTP 503" };
  const delivery = (
    s: RemediationStatus,
  ): NonNullable<NonNullable<RemediationStatus["notifications"]>[number]["deliveries"]>[number] | undefined =>
    s.notifications?.[0]?.deliveries?.[0];

  it("a failure is retried after the backoff (1 s, 2 s… with jitter), or the sink's Retry-After when longer", () => {
    const once = applyOutcome(expanded, target, retry, { now: NOW, random: () => 0.5 });
    assert.deepEqual(delivery(once), {
      sink: "oncall/a",
      state: "Pending",
      attempts: 1,
      lastError: "HTTP 503",
      nextAttemptAt: "2026-12-01T10:00:01.000Z",
    });
    const twice = applyOutcome(once, target, retry, { now: NOW, random: () => 0.5 });
    assert.equal(delivery(twice)?.nextAttemptAt, "2026-12-01T10:00:02.000Z");
    const retryAfter = applyOutcome(
      expanded,
      target,
      { ...retry, retryAfterMs: 30_000 },
      { now: NOW, random: () => 0.5 },
    );
    assert.equal(delivery(retryAfter)?.nextAttemptAt, "2026-12-01T10:00:30.000Z");
    assert.equal(nextDueInMs(retryAfter, NOW), 0, "sink b is still due now");
    assert.deepEqual(
      dueDeliveries(once, NOW).map((d) => d.delivery.sink),
      ["oncall/b"],
      "a is not due until its next attempt",
    );
  });

  it("dead-lettered after maxAttempts, with the last error; at once on a permanent failure", () => {
    let s = expanded;
    for (let i = 0; i < 3; i++) s = applyOutcome(s, target, retry, { now: NOW });
    assert.deepEqual(delivery(s), { sink: "oncall/a", state: "DeadLettered", attempts: 3, lastError: "HTTP 503" });
    const permanent = applyOutcome(
      expanded,
      target,
      { type: "permanent", error: "HTTP 404: no_service" },
      { now: NOW },
    );
    assert.deepEqual(delivery(permanent), {
      sink: "oncall/a",
      state: "DeadLettered",
      attempts: 1,
      lastError: "HTTP 404: no_service",
    });
  });

  it("delivered once acknowledged: the delivery is settled and a late outcome changes nothing", () => {
    const failed = applyOutcome(expanded, target, retry, { now: NOW });
    const done = applyOutcome(failed, target, { type: "delivered" }, { now: NOW });
    assert.deepEqual(delivery(done), { sink: "oncall/a", state: "Delivered", attempts: 2, deliveredAt: AT });
    assert.deepEqual(applyOutcome(done, target, retry, { now: NOW }).notifications, done.notifications);
  });
});
