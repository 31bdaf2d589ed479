import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Drift, InvariantStatus } from "../../src/api/desired-state.js";
import { computeDrift, driftFingerprint, type DriftInput } from "../../src/reconcile/drift.js";
import { container, service } from "./fixtures.js";

const NOW = new Date("2026-11-24T10:00:00.000Z");

function drift(input: Partial<DriftInput>): Pick<Drift, "type" | "subject" | "observed">[] {
  return computeDrift({ services: [], containers: [], invariants: [], previous: [], now: NOW, ...input }).map(
    ({ type, subject, observed }) => ({ type, subject, observed }),
  );
}

describe("computeDrift", () => {
  const cases: [string, Partial<DriftInput>, Pick<Drift, "type" | "subject" | "observed">[]][] = [
    ["all running and healthy: no drift", { services: [service("etcd0")], containers: [container("etcd0")] }, []],
    [
      "a stopped container",
      { services: [service("etcd0")], containers: [container("etcd0", { state: "exited", exitCode: 0 })] },
      [{ type: "ContainerStopped", subject: "container/etcd0", observed: "exited (exit code 0)" }],
    ],
    [
      "an OOM-killed container says so",
      {
        services: [service("etcd0")],
        containers: [container("etcd0", { state: "exited", exitCode: 137, oomKilled: true })],
      },
      [{ type: "ContainerStopped", subject: "container/etcd0", observed: "exited (exit code 137, OOM-killed)" }],
    ],
    [
      "a missing container",
      { services: [service("etcd0")], containers: [] },
      [{ type: "ContainerMissing", subject: "service/etcd0", observed: "no container" }],
    ],
    [
      "unhealthy counts only when healthy is declared",
      {
        services: [service("a"), service("b", { healthy: false })],
        containers: [container("a", { health: "unhealthy" }), container("b", { health: "unhealthy" })],
      },
      [{ type: "ContainerUnhealthy", subject: "container/a", observed: "unhealthy" }],
    ],
    [
      "health still starting is not drift",
      { services: [service("a")], containers: [container("a", { health: "starting" })] },
      [],
    ],
    [
      "a container declared stopped but running",
      { services: [service("a", { running: false })], containers: [container("a")] },
      [{ type: "ContainerRunning", subject: "container/a", observed: "running" }],
    ],
    [
      "replicas: fewer than declared",
      {
        services: [service("web", { replicas: 3 })],
        containers: [container("web-1", { service: "web" }), container("web-2", { service: "web" })],
      },
      [{ type: "ReplicasMismatch", subject: "service/web", observed: "2 containers" }],
    ],
    [
      "matches by container name when no compose service label matches",
      {
        services: [service("solo")],
        containers: [container("solo", { service: undefined, project: undefined, state: "exited" })],
      },
      [{ type: "ContainerStopped", subject: "container/solo", observed: "exited (exit code 0)" }],
    ],
    ["Docker not observed: no container drift at all", { services: [service("a")], containers: undefined }, []],
    ["replicas 0 expects nothing", { services: [service("a", { replicas: 0 })], containers: [] }, []],
  ];
  for (const [title, input, expected] of cases) it(title, () => assert.deepEqual(drift(input), expected));

  const invariant = (state: InvariantStatus["state"]): InvariantStatus => ({
    name: "quorum",
    state,
    since: "2026-11-24T09:59:00.000Z",
    value: "2",
    lastEvaluationTime: NOW.toISOString(),
  });
  it("a Violated invariant is drift, since when the violation began", () => {
    const [d] = computeDrift({
      services: [],
      containers: [],
      invariants: [invariant("Violated")],
      previous: [],
      now: NOW,
    });
    assert.deepEqual(d, {
      type: "InvariantViolated",
      subject: "invariant/quorum",
      expected: "holds",
      observed: "2",
      since: "2026-11-24T09:59:00.000Z",
    });
  });
  for (const state of ["Pending", "Unknown", "Holding"] as const) {
    it(`a ${state} invariant is not drift`, () => assert.deepEqual(drift({ invariants: [invariant(state)] }), []));
  }

  it("keeps since from the previous drift of the same type and subject", () => {
    const previous: Drift[] = [
      {
        type: "ContainerStopped",
        subject: "container/a",
        expected: "running",
        observed: "x",
        since: "2026-11-24T09:00:00.000Z",
      },
    ];
    const [d] = computeDrift({
      services: [service("a")],
      containers: [container("a", { state: "exited" })],
      invariants: [],
      previous,
      now: NOW,
    });
    assert.equal(d?.since, "2026-11-24T09:00:00.000Z");
  });

  it("is pure: the same input gives the same output", () => {
    const input: DriftInput = {
      services: [service("a")],
      containers: [container("a", { state: "exited" })],
      invariants: [],
      previous: [],
      now: NOW,
    };
    assert.deepEqual(computeDrift(input), computeDrift(input));
  });
});

describe("driftFingerprint", () => {
  it("ignores the observed value and time but not the subject or type", () => {
    const a = driftFingerprint("etcd", { type: "ContainerStopped", subject: "container/etcd0" });
    assert.equal(a, driftFingerprint("etcd", { type: "ContainerStopped", subject: "container/etcd0" }));
    assert.notEqual(a, driftFingerprint("etcd", { type: "ContainerStopped", subject: "container/etcd1" }));
    assert.notEqual(a, driftFingerprint("etcd", { type: "ContainerUnhealthy", subject: "container/etcd0" }));
    assert.notEqual(a, driftFingerprint("other", { type: "ContainerStopped", subject: "container/etcd0" }));
  });
});
