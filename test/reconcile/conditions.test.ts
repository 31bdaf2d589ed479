import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { InvariantStatus } from "../../src/api/desired-state.js";
import {
  desiredStateConditions,
  invalidSpecConditions,
  setCondition,
  type DesiredStateConditionInput,
} from "../../src/reconcile/conditions.js";

const T0 = new Date("2026-11-24T10:00:00.000Z");
const T1 = new Date("2026-11-24T10:05:00.000Z");

describe("setCondition", () => {
  it("keeps lastTransitionTime while the status is unchanged and moves it when it changes", () => {
    let list = setCondition(
      [],
      { type: "Ready", status: "True", reason: "A", message: "m", observedGeneration: 1 },
      T0,
    );
    list = setCondition(list, { type: "Ready", status: "True", reason: "B", message: "m2", observedGeneration: 2 }, T1);
    assert.equal(list.length, 1);
    assert.equal(list[0]?.lastTransitionTime, T0.toISOString());
    assert.equal(list[0]?.reason, "B");
    assert.equal(list[0]?.observedGeneration, 2);
    list = setCondition(list, { type: "Ready", status: "False", reason: "C", message: "m3" }, T1);
    assert.equal(list[0]?.lastTransitionTime, T1.toISOString());
  });
});

describe("desiredStateConditions", () => {
  const base: DesiredStateConditionInput = {
    generation: 3,
    drift: [],
    invariants: [],
    activeRemediation: undefined,
    degradations: [],
  };
  const inv = (state: InvariantStatus["state"], reason?: string): InvariantStatus => ({
    name: "q",
    state,
    since: T0.toISOString(),
    lastEvaluationTime: T0.toISOString(),
    ...(reason ? { reason } : {}),
  });
  const stopped = {
    type: "ContainerStopped" as const,
    subject: "container/a",
    expected: "running",
    observed: "exited",
    since: "",
  };
  const summary = (input: Partial<DesiredStateConditionInput>): string[] =>
    desiredStateConditions({ ...base, ...input }).map((c) => `${c.type}=${c.status}/${c.reason}`);

  const cases: [string, Partial<DesiredStateConditionInput>, string[]][] = [
    [
      "all as declared",
      {},
      [
        "Ready=True/AsDeclared",
        "Drifted=False/NoDrift",
        "Remediating=False/NoRemediation",
        "Degraded=False/AllObserved",
        "Reconciling=False/AsDeclared",
        "Stalled=False/AsDeclared",
      ],
    ],
    [
      "drift",
      {
        drift: [
          { type: "ContainerStopped", subject: "container/a", expected: "running", observed: "exited", since: "" },
        ],
      },
      [
        "Ready=False/Drifted",
        "Drifted=True/DriftDetected",
        "Remediating=False/NoRemediation",
        "Degraded=False/AllObserved",
        "Reconciling=True/Drifted",
        "Stalled=False/Progressing",
      ],
    ],
    [
      "Prometheus down: Unknown, not drift",
      {
        invariants: [inv("Unknown", "connection refused")],
        degradations: [{ reason: "PrometheusUnavailable", message: "connection refused" }],
      },
      [
        "Ready=Unknown/PrometheusUnavailable",
        "Drifted=False/NoDrift",
        "Remediating=False/NoRemediation",
        "Degraded=True/PrometheusUnavailable",
        "Reconciling=True/PrometheusUnavailable",
        "Stalled=False/Progressing",
      ],
    ],
    [
      "no series: Unknown",
      { invariants: [inv("Unknown", "no series")] },
      [
        "Ready=Unknown/InvariantUnknown",
        "Drifted=False/NoDrift",
        "Remediating=False/NoRemediation",
        "Degraded=False/AllObserved",
        "Reconciling=True/InvariantUnknown",
        "Stalled=False/Progressing",
      ],
    ],
    [
      "pending within for",
      { invariants: [inv("Pending")] },
      [
        "Ready=False/InvariantPending",
        "Drifted=False/NoDrift",
        "Remediating=False/NoRemediation",
        "Degraded=False/AllObserved",
        "Reconciling=True/InvariantPending",
        "Stalled=False/Progressing",
      ],
    ],
    [
      "remediating",
      { activeRemediation: "etcd-x" },
      [
        "Ready=True/AsDeclared",
        "Drifted=False/NoDrift",
        "Remediating=True/RemediationOpen",
        "Degraded=False/AllObserved",
        "Reconciling=False/AsDeclared",
        "Stalled=False/AsDeclared",
      ],
    ],
    [
      "drift whose remediation was escalated: Stalled, a person owns it",
      { drift: [stopped], activeRemediation: undefined, escalated: [stopped] },
      [
        "Ready=False/Drifted",
        "Drifted=True/DriftDetected",
        "Remediating=False/NoRemediation",
        "Degraded=False/AllObserved",
        "Reconciling=False/Escalated",
        "Stalled=True/Escalated",
      ],
    ],
    [
      "drift with a remediation no agent works on (agent off): Stalled",
      { drift: [stopped], activeRemediation: "etcd-a", unattended: [{ name: "etcd-a", reason: "AgentOff" }] },
      [
        "Ready=False/Drifted",
        "Drifted=True/DriftDetected",
        "Remediating=True/RemediationOpen",
        "Degraded=False/AllObserved",
        "Reconciling=False/WaitingForPerson",
        "Stalled=True/WaitingForPerson",
      ],
    ],
    [
      "drift with a remediation the agent works on: Reconciling",
      { drift: [stopped], activeRemediation: "etcd-a" },
      [
        "Ready=False/Drifted",
        "Drifted=True/DriftDetected",
        "Remediating=True/RemediationOpen",
        "Degraded=False/AllObserved",
        "Reconciling=True/Drifted",
        "Stalled=False/Progressing",
      ],
    ],
  ];
  for (const [title, input, expected] of cases) it(title, () => assert.deepEqual(summary(input), expected));

  it("Stalled names the escalated subjects and the waiting remediations", () => {
    const escalated = desiredStateConditions({ ...base, drift: [stopped], escalated: [stopped] });
    assert.match(
      escalated.find((c) => c.type === "Stalled")?.message ?? "",
      /remediation of container\/a was escalated/,
    );
    const waiting = desiredStateConditions({
      ...base,
      drift: [stopped],
      unattended: [{ name: "etcd-a", reason: "NoModelConfigured" }],
    });
    assert.match(
      waiting.find((c) => c.type === "Stalled")?.message ?? "",
      /AgentRemediation etcd-a waits for a person \(NoModelConfigured\)/,
    );
  });

  it("an opening the rate limit deferred: Remediating says the drift waits, for what, and until when", () => {
    const deferredOpenings = {
      subjects: ["container/etcd1"],
      perMinute: 10,
      retryInMs: 6_000,
      at: "2026-11-24T10:00:06Z",
    };
    const remediating = desiredStateConditions({ ...base, deferredOpenings }).find((c) => c.type === "Remediating");
    assert.equal(`${remediating?.status}/${remediating?.reason}`, "False/RateLimited");
    assert.match(
      remediating?.message ?? "",
      /container\/etcd1 waits: at most 10 remediations are opened a minute \(--max-openings-per-minute\); next try at 2026-11-24T10:00:06Z/,
    );
    const alongside = desiredStateConditions({ ...base, activeRemediation: "etcd-x", deferredOpenings }).find(
      (c) => c.type === "Remediating",
    );
    assert.equal(`${alongside?.status}/${alongside?.reason}`, "True/RemediationOpen");
    assert.match(alongside?.message ?? "", /etcd-x is open; a remediation for container\/etcd1 waits/);
  });

  it("a drift that flaps: Remediating says no remediation opens for it, and from when one may", () => {
    const flapping = [{ subject: "invariant/leader", until: "2026-11-24T10:05:00Z" }];
    const remediating = desiredStateConditions({ ...base, flapping }).find((c) => c.type === "Remediating");
    assert.equal(`${remediating?.status}/${remediating?.reason}`, "False/Flapping");
    assert.match(
      remediating?.message ?? "",
      /invariant\/leader cleared by itself and came back: a remediation opens if it is still here at 2026-11-24T10:05:00Z \(spec.remediation.cooldown\)/,
    );
  });

  it("every condition carries observedGeneration", () => {
    for (const c of desiredStateConditions(base)) assert.equal(c.observedGeneration, 3);
  });
  it("the Unknown condition says why", () => {
    const ready = desiredStateConditions({
      ...base,
      degradations: [{ reason: "PrometheusUnavailable", message: "GET http://127.0.0.1:19090: connection refused" }],
    })[0];
    assert.match(ready?.message ?? "", /connection refused/);
  });
});

describe("invalidSpecConditions (a spec an older CRD let through)", () => {
  it("Ready=False and Stalled=True, reason InvalidSpec, with the problems and observedGeneration", () => {
    const conditions = invalidSpecConditions(['spec.services[0].name: expected Deployment/<name>, got "web"'], 4);
    assert.deepEqual(
      conditions.map((c) => `${c.type}=${c.status}/${c.reason}@${c.observedGeneration}`),
      ["Ready=False/InvalidSpec@4", "Reconciling=False/InvalidSpec@4", "Stalled=True/InvalidSpec@4"],
    );
    assert.match(conditions[0]?.message ?? "", /spec\.services\[0\]\.name: expected Deployment/);
  });
});
