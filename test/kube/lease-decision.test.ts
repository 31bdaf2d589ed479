import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { V1MicroTime } from "@kubernetes/client-node";
import {
  leaseDecision,
  leaseRecordOf,
  leaseSpecOf,
  nextLease,
  releasedLease,
  type LeaseRecord,
} from "../../src/kube/lease.js";

const NOW = new Date("2026-11-24T10:00:00.000Z");
const ME = "steward-0_aaaa";
const ago = (ms: number): Date => new Date(NOW.getTime() - ms);
const held = (holder: string, renewedMsAgo: number, extra: Partial<LeaseRecord> = {}): LeaseRecord => ({
  holderIdentity: holder,
  leaseDurationSeconds: 15,
  acquireTime: ago(60_000),
  renewTime: ago(renewedMsAgo),
  leaseTransitions: 2,
  ...extra,
});

describe("leaseDecision", () => {
  const cases: [string, LeaseRecord | undefined, string][] = [
    ["no Lease object yet: create it", undefined, "create"],
    ["held by us: renew", held(ME, 1_000), "renew"],
    ["held by us even past its duration (nobody took it): renew", held(ME, 20_000), "renew"],
    ["released (no holder): acquire at once", { ...held("", 1_000), holderIdentity: undefined }, "acquire:-"],
    ["released (empty holder): acquire at once", held("", 1_000), "acquire:-"],
    ["held by another, renewed 1 s ago: wait", held("steward-1_bbbb", 1_000), "wait:steward-1_bbbb"],
    [
      "held by another, renewed exactly 15 s ago: still wait (expired means renewTime + duration < now)",
      held("steward-1_bbbb", 15_000),
      "wait:steward-1_bbbb",
    ],
    [
      "held by another, renewed 15.001 s ago: expired, acquire",
      held("steward-1_bbbb", 15_001),
      "acquire:steward-1_bbbb",
    ],
    [
      "the record's own duration counts, not ours: 30 s lease renewed 20 s ago is live",
      held("steward-1_bbbb", 20_000, { leaseDurationSeconds: 30 }),
      "wait:steward-1_bbbb",
    ],
    [
      "no duration in the record: ours (15 s) applies",
      held("steward-1_bbbb", 16_000, { leaseDurationSeconds: undefined }),
      "acquire:steward-1_bbbb",
    ],
    [
      "a holder that never renewed falls back to acquireTime",
      held("steward-1_bbbb", 0, { renewTime: undefined, acquireTime: ago(1_000) }),
      "wait:steward-1_bbbb",
    ],
    [
      "a holder with no times at all is expired",
      held("steward-1_bbbb", 0, { renewTime: undefined, acquireTime: undefined }),
      "acquire:steward-1_bbbb",
    ],
  ];
  for (const [name, lease, expected] of cases) {
    it(name, () => {
      const decision = leaseDecision(lease, NOW, ME);
      const summary =
        decision.type === "acquire"
          ? `acquire:${decision.previousHolder ?? "-"}`
          : decision.type === "wait"
            ? `wait:${decision.holder}`
            : decision.type;
      assert.equal(summary, expected);
    });
  }

  it("says until when a live lease is held", () => {
    const decision = leaseDecision(held("other", 4_000), NOW, ME);
    assert.equal(decision.type === "wait" && decision.expiresAt.toISOString(), "2026-11-24T10:00:11.000Z");
  });
});

describe("nextLease", () => {
  const input = { now: NOW, identity: ME, durationMs: 15_000 };

  it("create: we hold it from now, no transition yet", () => {
    assert.deepEqual(nextLease({ type: "create" }, undefined, input), {
      holderIdentity: ME,
      leaseDurationSeconds: 15,
      acquireTime: NOW,
      renewTime: NOW,
      leaseTransitions: 0,
    });
  });

  it("a takeover from another holder counts a transition and resets acquireTime", () => {
    const next = nextLease({ type: "acquire", previousHolder: "other" }, held("other", 20_000), input);
    assert.deepEqual(next, {
      holderIdentity: ME,
      leaseDurationSeconds: 15,
      acquireTime: NOW,
      renewTime: NOW,
      leaseTransitions: 3,
    });
  });

  it("acquiring a released lease is a transition too", () => {
    assert.equal(nextLease({ type: "acquire", previousHolder: undefined }, held("", 1_000), input).leaseTransitions, 3);
  });

  it("renew moves only renewTime", () => {
    const lease = held(ME, 2_000);
    assert.deepEqual(nextLease({ type: "renew" }, lease, input), { ...lease, renewTime: NOW });
  });

  it("release clears the holder and keeps the transition count", () => {
    const released = releasedLease(held(ME, 1_000), NOW);
    assert.equal(released.holderIdentity, undefined);
    assert.equal(released.leaseTransitions, 2);
    assert.equal(leaseDecision(released, NOW, "anyone").type, "acquire");
  });
});

describe("Lease ⇄ record", () => {
  it("sends MicroTime with six fractional digits, as the API server requires", () => {
    const spec = leaseSpecOf(held(ME, 1_000));
    assert.ok(spec.renewTime instanceof V1MicroTime);
    assert.equal((JSON.parse(JSON.stringify(spec)) as { renewTime: string }).renewTime, "2026-11-24T09:59:59.000000Z");
  });

  it("reads the times the client hands back as strings", () => {
    const record = leaseRecordOf({
      spec: {
        holderIdentity: "x",
        renewTime: "2026-11-24T09:59:59.123456Z" as unknown as V1MicroTime,
        leaseDurationSeconds: 15,
      },
    });
    assert.equal(record.renewTime?.toISOString(), "2026-11-24T09:59:59.123Z");
    assert.equal(record.acquireTime, undefined);
  });

  it("an empty holderIdentity reads as no holder", () => {
    assert.equal(leaseRecordOf({ spec: { holderIdentity: "" } }).holderIdentity, undefined);
  });
});
