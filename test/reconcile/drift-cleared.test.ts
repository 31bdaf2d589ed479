import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Drift } from "../../src/api/desired-state.js";
import { validateResource } from "../../src/api/load.js";
import type { AgentRemediation } from "../../src/api/remediation.js";
import type { WorkloadSnapshot } from "../../src/observe/types.js";
import { driftCleared, emptyRemediationStatus } from "../../src/reconcile/remediations.js";
import { unsettledWorkloads } from "../../src/reconcile/workload-drift.js";
import { service } from "./fixtures.js";

function remediationFor(drift: Pick<Drift, "type" | "subject">): AgentRemediation {
  const result = validateResource({
    apiVersion: "steward.dev/v1alpha1",
    kind: "AgentRemediation",
    metadata: { name: "r", namespace: "shop" },
    spec: {
      desiredStateRef: { name: "shop", namespace: "shop" },
      fingerprint: `shop/${drift.type}/${drift.subject}`,
      reason: "NoSimpleFix",
      drift: [{ ...drift, expected: "running", observed: "CrashLoopBackOff", since: "2026-11-24T10:00:00Z" }],
      policyRef: "default",
      mode: "approve",
    },
    status: emptyRemediationStatus(),
  });
  if (!result.ok) throw new Error(result.problems.join("; "));
  return result.resource as AgentRemediation;
}

function deployment(overrides: Partial<WorkloadSnapshot> = {}): WorkloadSnapshot {
  return {
    kind: "Deployment",
    namespace: "shop",
    name: "web",
    uid: "uid-web",
    labels: {},
    selector: { app: "web" },
    replicas: 2,
    readyReplicas: 2,
    updatedReplicas: 2,
    generation: 3,
    observedGeneration: 3,
    ...overrides,
  };
}

describe("unsettledWorkloads: what kubectl rollout status would still wait for", () => {
  const web = [service("Deployment/web", { replicas: 2 })];
  const cases: [string, Partial<WorkloadSnapshot>, string[]][] = [
    ["rolled out and Ready", {}, []],
    ["a replacement not Ready yet", { readyReplicas: 1 }, ["deployment/web: 2 updated, 1 ready of 2"]],
    ["old pods not replaced yet", { updatedReplicas: 1 }, ["deployment/web: 1 updated, 2 ready of 2"]],
    ["a new spec the controller has not seen", { observedGeneration: 2 }, ["deployment/web: 2 updated, 2 ready of 2"]],
    ["scaled to zero", { replicas: 0, readyReplicas: 0, updatedReplicas: 0 }, []],
  ];
  for (const [name, overrides, expected] of cases) {
    it(name, () => {
      assert.deepEqual(
        unsettledWorkloads(web, { workloads: [deployment(overrides)], pods: [], replicaSets: [] }),
        expected,
      );
    });
  }

  it("only the declared workloads count, and a missing one is not rolling out", () => {
    const other = deployment({ name: "other", readyReplicas: 0 });
    assert.deepEqual(unsettledWorkloads(web, { workloads: [other], pods: [], replicaSets: [] }), []);
  });
});

describe("driftCleared for a crash-looping pod", () => {
  const looping = remediationFor({ type: "PodCrashLooping", subject: "pod/web-1" });
  const base = { desiredState: "shop", invariants: [], targetObserved: true };

  it("the pod gone and its workload rolled out and Ready: cleared", () => {
    assert.equal(driftCleared(looping, { ...base, currentDrift: [], unsettledWorkloads: [] }), true);
  });

  it("the pod gone but its replacement not Ready yet: not cleared", () => {
    const unsettled = ["deployment/web: 1 updated, 0 ready of 1"];
    assert.equal(driftCleared(looping, { ...base, currentDrift: [], unsettledWorkloads: unsettled }), false);
  });

  it("the pod still crash-looping: not cleared", () => {
    const currentDrift = [{ type: "PodCrashLooping" as const, subject: "pod/web-1" }];
    assert.equal(driftCleared(looping, { ...base, currentDrift, unsettledWorkloads: [] }), false);
  });

  it("a workload drift does not wait for the rollout (a scale-back is verified by its replicas)", () => {
    const scaled = remediationFor({ type: "ReplicasMismatch", subject: "deployment/web" });
    const unsettled = ["deployment/web: 2 updated, 1 ready of 2"];
    assert.equal(driftCleared(scaled, { ...base, currentDrift: [], unsettledWorkloads: unsettled }), true);
  });
});
