import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Drift, FixRecord } from "../../src/api/desired-state.js";
import { driftFingerprint } from "../../src/reconcile/drift.js";
import { planSteps, UNREADY_GRACE_MS, type PlanInput } from "../../src/reconcile/plan.js";
import { container, service } from "./fixtures.js";

const NOW = new Date("2026-11-24T10:00:00.000Z");
const stopped: Drift = {
  type: "ContainerStopped",
  subject: "container/etcd0",
  expected: "running",
  observed: "exited (exit code 1)",
  since: NOW.toISOString(),
};

function plan(overrides: Partial<PlanInput>): string[] {
  const input: PlanInput = {
    desiredState: "etcd",
    services: [service("etcd0", { restartBudget: { max: 3, window: "10m" } })],
    simpleFixes: ["start", "restart"],
    drift: [stopped],
    containers: [container("etcd0", { state: "exited", exitCode: 1 })],
    fixes: [],
    openFingerprints: new Set(),
    now: NOW,
    ...overrides,
  };
  return planSteps(input).map((s) =>
    s.type === "fix"
      ? `fix:${s.action}:${s.action === "scale" ? `${s.workload}=${s.replicas}` : s.container}`
      : s.type === "open"
        ? `open:${s.reason}`
        : "wait",
  );
}

function fixesAgo(minutes: number[]): FixRecord[] {
  return minutes.map((m) => ({
    subject: "container/etcd0",
    action: "start",
    time: new Date(NOW.getTime() - m * 60_000).toISOString(),
    result: "Succeeded",
  }));
}

describe("planSteps", () => {
  const cases: [string, Partial<PlanInput>, string[]][] = [
    ["a stopped container is started", {}, ["fix:start:etcd0"]],
    ["with budget left (2 of 3 used) it is started again", { fixes: fixesAgo([1, 2]) }, ["fix:start:etcd0"]],
    [
      "budget spent (3 of 3 in the window): a remediation opens",
      { fixes: fixesAgo([1, 2, 3]) },
      ["open:RestartBudgetExhausted"],
    ],
    ["fixes outside the window do not count", { fixes: fixesAgo([11, 12, 13]) }, ["fix:start:etcd0"]],
    ["start disabled: a remediation opens at once", { simpleFixes: [] }, ["open:SimpleFixDisabled"]],
    [
      "an open remediation owns the drift: wait",
      { openFingerprints: new Set([driftFingerprint("etcd", stopped)]) },
      ["wait"],
    ],
    [
      "an unhealthy container is restarted",
      {
        drift: [{ ...stopped, type: "ContainerUnhealthy", observed: "unhealthy" }],
        containers: [container("etcd0", { health: "unhealthy" })],
      },
      ["fix:restart:etcd0"],
    ],
    [
      "a missing container has no simple fix",
      {
        drift: [{ ...stopped, type: "ContainerMissing", subject: "service/etcd0", observed: "no container" }],
        containers: [],
      },
      ["open:NoSimpleFix"],
    ],
    [
      "a violated invariant has no simple fix",
      { drift: [{ ...stopped, type: "InvariantViolated", subject: "invariant/quorum" }] },
      ["open:NoSimpleFix"],
    ],
    [
      "Docker restarting it under its restart policy: wait",
      { containers: [container("etcd0", { state: "restarting", restartCount: 1 })] },
      ["wait"],
    ],
    [
      "Docker restarting it past the budget: a remediation opens",
      { containers: [container("etcd0", { state: "restarting", restartCount: 5 })] },
      ["open:RestartBudgetExhausted"],
    ],
    [
      "a paused container has no simple fix",
      { containers: [container("etcd0", { state: "paused" })] },
      ["open:NoSimpleFix"],
    ],
    [
      "default budget (3 per 10m) when none is declared",
      { services: [service("etcd0")], fixes: fixesAgo([1, 2, 3]) },
      ["open:RestartBudgetExhausted"],
    ],
  ];
  for (const [title, overrides, expected] of cases) it(title, () => assert.deepEqual(plan(overrides), expected));
});

describe("planSteps after an escalation", () => {
  const fingerprint = driftFingerprint("etcd", stopped);
  it("does not reopen a drift that has persisted since its remediation was escalated", () => {
    const escalatedAt = new Map([[fingerprint, new Date(NOW.getTime() + 1_000).toISOString()]]);
    assert.deepEqual(plan({ simpleFixes: [], escalatedAt }), ["wait"]);
  });
  it("opens a new remediation for the same drift once it has cleared and come back", () => {
    const escalatedAt = new Map([[fingerprint, new Date(NOW.getTime() - 60_000).toISOString()]]);
    assert.deepEqual(plan({ simpleFixes: [], escalatedAt }), ["open:SimpleFixDisabled"]);
  });
});

describe("planSteps for a drift that cleared by itself and came back (flapping)", () => {
  const violated: Drift = { ...stopped, type: "InvariantViolated", subject: "invariant/leader" };
  const fingerprint = driftFingerprint("etcd", violated);
  const clearedAgo = (ms: number): Map<string, string> =>
    new Map([[fingerprint, new Date(NOW.getTime() - ms).toISOString()]]);
  const cases: [string, Partial<PlanInput>, string[]][] = [
    [
      "within the cooldown of that close: no new remediation",
      { drift: [violated], selfClearedAt: clearedAgo(60_000), reopenAfterMs: 300_000 },
      ["wait"],
    ],
    [
      "once the cooldown has passed since that close: a remediation opens",
      { drift: [violated], selfClearedAt: clearedAgo(301_000), reopenAfterMs: 300_000 },
      ["open:NoSimpleFix"],
    ],
    [
      "cooldown 0s: it opens at once, as before",
      { drift: [violated], selfClearedAt: clearedAgo(1_000), reopenAfterMs: 0 },
      ["open:NoSimpleFix"],
    ],
    [
      "another drift's self-clear holds nothing back",
      {
        drift: [violated],
        selfClearedAt: new Map([["other", NOW.toISOString()]]),
        reopenAfterMs: 300_000,
      },
      ["open:NoSimpleFix"],
    ],
    [
      "a simple fix is still made while it flaps",
      {
        selfClearedAt: new Map([[driftFingerprint("etcd", stopped), NOW.toISOString()]]),
        reopenAfterMs: 300_000,
      },
      ["fix:start:etcd0"],
    ],
  ];
  for (const [title, overrides, expected] of cases) it(title, () => assert.deepEqual(plan(overrides), expected));

  it("says when a remediation may open", () => {
    const [step] = planSteps({
      desiredState: "etcd",
      services: [],
      simpleFixes: [],
      drift: [violated],
      containers: [],
      fixes: [],
      openFingerprints: new Set(),
      selfClearedAt: clearedAgo(60_000),
      reopenAfterMs: 300_000,
      now: NOW,
    });
    assert.equal(step?.type === "wait" ? step.flappingUntil : undefined, "2026-11-24T10:04:00Z");
  });
});

describe("planSteps for Kubernetes workloads", () => {
  const scaledDown: Drift = {
    type: "ReplicasMismatch",
    subject: "deployment/web",
    expected: "3 replicas",
    observed: "1 replicas",
    since: NOW.toISOString(),
  };
  const web = service("Deployment/web", { replicas: 3, restartBudget: { max: 2, window: "10m" } });
  const scaleFixesAgo = (minutes: number[]): FixRecord[] =>
    minutes.map((m) => ({
      subject: "deployment/web",
      action: "scale",
      time: new Date(NOW.getTime() - m * 60_000).toISOString(),
      result: "Succeeded",
    }));
  const unready = (secondsAgo: number): Drift => ({
    type: "WorkloadUnready",
    subject: "deployment/web",
    expected: "3 ready",
    observed: "1/3 ready",
    since: new Date(NOW.getTime() - secondsAgo * 1_000).toISOString(),
  });
  const base: Partial<PlanInput> = { services: [web], simpleFixes: ["start", "restart", "scale"], containers: [] };
  const cases: [string, Partial<PlanInput>, string[]][] = [
    ["scaled down: scaled back to the declared replicas", { drift: [scaledDown] }, ["fix:scale:deployment/web=3"]],
    [
      "declared stopped: scaled to zero",
      { drift: [scaledDown], services: [{ ...web, running: false }] },
      ["fix:scale:deployment/web=0"],
    ],
    [
      "scale disabled: a remediation opens at once",
      { drift: [scaledDown], simpleFixes: ["start", "restart"] },
      ["open:SimpleFixDisabled"],
    ],
    [
      "scale-backs that did not stick use up the budget",
      { drift: [scaledDown], fixes: scaleFixesAgo([1, 2]) },
      ["open:RestartBudgetExhausted"],
    ],
    [
      "a crash-looping pod has no simple fix",
      { drift: [{ ...scaledDown, type: "PodCrashLooping", subject: "pod/web-1" }] },
      ["open:NoSimpleFix"],
    ],
    [
      "a missing workload has no simple fix",
      { drift: [{ ...scaledDown, type: "WorkloadMissing" }] },
      ["open:NoSimpleFix"],
    ],
    ["unready for a few seconds: wait for the pods", { drift: [unready(10)] }, ["wait"]],
    [
      "unready past the grace: a remediation opens",
      { drift: [unready(UNREADY_GRACE_MS / 1_000 + 1)] },
      ["open:NoSimpleFix"],
    ],
  ];
  for (const [title, overrides, expected] of cases)
    it(title, () => assert.deepEqual(plan({ ...base, ...overrides }), expected));
});
