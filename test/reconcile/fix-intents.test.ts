import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Drift, FixRecord } from "../../src/api/desired-state.js";
import {
  intentRecord,
  RESTART_SETTLE_MS,
  restartMayBeInFlight,
  settleInterruptedFixes,
} from "../../src/reconcile/fix-intents.js";
import { planSteps, type PlanInput } from "../../src/reconcile/plan.js";
import { container, service } from "./fixtures.js";

const NOW = new Date("2026-11-24T10:00:00.000Z");
const ago = (ms: number): string => new Date(NOW.getTime() - ms).toISOString();
const record = (result: FixRecord["result"], msAgo: number, action: FixRecord["action"] = "restart"): FixRecord => ({
  subject: "container/etcd0",
  action,
  time: ago(msAgo),
  result,
});

describe("simple-fix intent records", () => {
  it("an intent is a Started record at the reconcile's time, which its outcome replaces", () => {
    assert.deepEqual(intentRecord({ subject: "container/etcd0", action: "start" }, NOW), {
      subject: "container/etcd0",
      action: "start",
      time: NOW.toISOString(),
      result: "Started",
      message: "recorded before acting",
    });
  });

  it("a Started record read back is Interrupted, keeps its time and is still counted; the others are kept as they are", () => {
    const fixes = [record("Succeeded", 5_000, "start"), record("Started", 1_000)];
    const settled = settleInterruptedFixes(fixes);
    assert.equal(settled.length, 2);
    assert.deepEqual(settled[0], fixes[0]);
    assert.equal(settled[1]?.result, "Interrupted");
    assert.equal(settled[1]?.time, fixes[1]?.time);
    assert.match(settled[1]?.message ?? "", /may or may not have run/);
  });

  describe("restartMayBeInFlight", () => {
    const cases: [string, FixRecord[], string | undefined, boolean][] = [
      ["an interrupted restart, container not started since: wait", [record("Interrupted", 5_000)], ago(60_000), true],
      ["a Started record (not yet settled) counts the same", [record("Started", 5_000)], ago(60_000), true],
      ["no start time known: wait", [record("Interrupted", 5_000)], undefined, true],
      [
        "the container started after the restart began: it happened, judge afresh",
        [record("Interrupted", 5_000)],
        ago(1_000),
        false,
      ],
      ["the settle time has passed: judge afresh", [record("Interrupted", RESTART_SETTLE_MS)], ago(120_000), false],
      ["a finished restart is not in flight", [record("Succeeded", 5_000)], ago(60_000), false],
      [
        "an interrupted start is not a restart (a repeated start is a no-op)",
        [record("Interrupted", 5_000, "start")],
        ago(60_000),
        false,
      ],
      [
        "another container's restart does not count",
        [{ ...record("Interrupted", 5_000), subject: "container/etcd1" }],
        ago(60_000),
        false,
      ],
    ];
    for (const [name, fixes, startedAt, expected] of cases) {
      it(name, () => assert.equal(restartMayBeInFlight(fixes, "container/etcd0", { startedAt }, NOW), expected));
    }
  });

  describe("planSteps after a crash in the middle of a restart", () => {
    const unhealthy: Drift = {
      type: "ContainerUnhealthy",
      subject: "container/etcd0",
      expected: "healthy",
      observed: "unhealthy",
      since: ago(120_000),
    };
    const input = (fixes: FixRecord[], startedAt: string): PlanInput => ({
      desiredState: "etcd",
      services: [service("etcd0", { restartBudget: { max: 3, window: "10m" } })],
      simpleFixes: ["start", "restart"],
      drift: [unhealthy],
      containers: [container("etcd0", { health: "unhealthy", startedAt })],
      fixes,
      openFingerprints: new Set(),
      now: NOW,
    });

    it("does not restart again while the interrupted restart may still be under way", () => {
      const [step] = planSteps(input([record("Interrupted", 3_000)], ago(600_000)));
      assert.equal(step?.type, "wait");
    });

    it("restarts once the container is seen restarted and unhealthy again, the interrupted restart counted in the budget", () => {
      const steps = planSteps(
        input([record("Interrupted", 3_000), record("Succeeded", 60_000), record("Succeeded", 120_000)], ago(1_000)),
      );
      assert.equal(steps[0]?.type, "open", "3 of 3 used: the interrupted restart counts");
      const [step] = planSteps(input([record("Interrupted", 3_000)], ago(1_000)));
      assert.equal(step?.type, "fix");
    });
  });
});
