import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Drift } from "../../src/api/desired-state.js";
import type { PodSnapshot, ReplicaSetSnapshot, WorkloadSnapshot } from "../../src/observe/types.js";
import { computeDrift } from "../../src/reconcile/drift.js";
import {
  inKubernetesTarget,
  podsOf,
  workloadOf,
  type WorkloadObservation,
} from "../../src/reconcile/workload-drift.js";
import { service } from "./fixtures.js";

const NOW = new Date("2026-11-24T10:00:00.000Z");

function deployment(name: string, overrides: Partial<WorkloadSnapshot> = {}): WorkloadSnapshot {
  return {
    kind: "Deployment",
    namespace: "shop",
    name,
    uid: `uid-deployment-${name}`,
    labels: {},
    selector: { app: name },
    replicas: 2,
    readyReplicas: 2,
    updatedReplicas: 2,
    generation: 1,
    observedGeneration: 1,
    ...overrides,
  };
}

/** The ReplicaSet of Deployment `app`, as its controller would create it. */
function replicaSetOf(app: string, deploymentUid = `uid-deployment-${app}`): ReplicaSetSnapshot {
  return {
    namespace: "shop",
    name: `${app}-7d9`,
    uid: `uid-rs-${app}`,
    labels: { app },
    ownerReferences: [{ kind: "Deployment", name: app, uid: deploymentUid, controller: true }],
  };
}

/** A pod of Deployment `app` (owned by its ReplicaSet), labelled the way the template labels it. */
function pod(name: string, app: string, overrides: Partial<PodSnapshot> = {}): PodSnapshot {
  return {
    namespace: "shop",
    name,
    uid: `uid-pod-${name}`,
    labels: { app },
    ownerReferences: [{ kind: "ReplicaSet", name: `${app}-7d9`, uid: `uid-rs-${app}`, controller: true }],
    secretValues: [],
    phase: "Running",
    ready: true,
    terminating: false,
    containers: [{ name: "main", ready: true, restartCount: 0, state: "running" }],
    ...overrides,
  };
}

const owned = (kind: string, name: string, uid: string, controller = true): Pick<PodSnapshot, "ownerReferences"> => ({
  ownerReferences: [{ kind, name, uid, controller }],
});

/** The namespace as observed: the workloads, each Deployment's ReplicaSet, and the pods. */
function observed(workloads: WorkloadSnapshot[], pods: PodSnapshot[]): WorkloadObservation {
  return {
    workloads,
    replicaSets: workloads.filter((w) => w.kind === "Deployment").map((w) => replicaSetOf(w.name)),
    pods,
  };
}

const crashLooping = (name: string): PodSnapshot =>
  pod(name, "web", {
    ready: false,
    containers: [
      {
        name: "main",
        ready: false,
        restartCount: 6,
        state: "waiting",
        reason: "CrashLoopBackOff",
        lastTermination: { reason: "Error", exitCode: 1 },
      },
    ],
  });

function drift(
  services: Parameters<typeof computeDrift>[0]["services"],
  workloads: WorkloadObservation | undefined,
): Pick<Drift, "type" | "subject" | "observed">[] {
  return computeDrift({ services, containers: undefined, workloads, invariants: [], previous: [], now: NOW }).map(
    ({ type, subject, observed }) => ({ type, subject, observed }),
  );
}

describe("computeDrift for Kubernetes workloads", () => {
  const web = [pod("web-1", "web"), pod("web-2", "web")];
  const cases: [
    string,
    Parameters<typeof computeDrift>[0]["services"],
    WorkloadObservation | undefined,
    Pick<Drift, "type" | "subject" | "observed">[],
  ][] = [
    ["as declared: no drift", [service("Deployment/web", { replicas: 2 })], observed([deployment("web")], web), []],
    [
      "scaled down by someone: replicas drift on the workload",
      [service("Deployment/web", { replicas: 2 })],
      observed([deployment("web", { replicas: 1, readyReplicas: 1 })], web.slice(0, 1)),
      [{ type: "ReplicasMismatch", subject: "deployment/web", observed: "1 replicas" }],
    ],
    [
      "a missing workload",
      [service("StatefulSet/db", { replicas: 3 })],
      observed([], []),
      [{ type: "WorkloadMissing", subject: "statefulset/db", observed: "not found" }],
    ],
    [
      "a missing workload declared stopped is fine",
      [service("Deployment/web", { running: false })],
      observed([], []),
      [],
    ],
    [
      "running: false means zero replicas",
      [service("Deployment/web", { running: false })],
      observed([deployment("web")], web),
      [{ type: "ReplicasMismatch", subject: "deployment/web", observed: "2 replicas" }],
    ],
    [
      "fewer ready than declared counts only when healthy is declared",
      [
        service("Deployment/web", { replicas: 2, healthy: true }),
        service("Deployment/api", { replicas: 2, healthy: false }),
      ],
      observed([deployment("web", { readyReplicas: 1 }), deployment("api", { readyReplicas: 0 })], []),
      [{ type: "WorkloadUnready", subject: "deployment/web", observed: "1/2 ready" }],
    ],
    [
      "a crash-looping pod is drift of its own, with its reason and exit code",
      [service("Deployment/web", { replicas: 2, healthy: false })],
      observed([deployment("web", { readyReplicas: 1 })], [pod("web-1", "web"), crashLooping("web-2")]),
      [
        {
          type: "PodCrashLooping",
          subject: "pod/web-2",
          observed: "CrashLoopBackOff: container main, 6 restarts, last terminated Error (exit code 1)",
        },
      ],
    ],
    [
      "a crash-looping pod being deleted is not drift",
      [service("Deployment/web", { replicas: 2 })],
      observed([deployment("web")], [pod("web-1", "web"), { ...crashLooping("web-2"), terminating: true }]),
      [],
    ],
    [
      // Regression (issue 11): pods were matched by labels, so web-canary, labelled app=web
      // but owned by the web-canary Deployment, counted as web's pod.
      "a crash-looping pod that carries our labels but is owned by another workload is not ours",
      [service("Deployment/web", { replicas: 2 })],
      observed(
        [deployment("web"), deployment("web-canary", { selector: { app: "web", track: "canary" } })],
        [
          pod("web-1", "web"),
          { ...crashLooping("web-canary-1"), ...owned("ReplicaSet", "web-canary-7d9", "uid-rs-web-canary") },
        ],
      ),
      [],
    ],
    [
      "a bare pod labelled like the workload's, with no owner, is not ours",
      [service("Deployment/web", { replicas: 2 })],
      observed([deployment("web")], [{ ...crashLooping("impostor"), ownerReferences: [] }]),
      [],
    ],
    [
      "a crash-looping pod of another workload is not ours",
      [service("Deployment/api", { replicas: 2 })],
      observed([deployment("api"), deployment("web")], [crashLooping("web-2")]),
      [],
    ],
    ["not observed: no workload drift at all", [service("Deployment/web")], undefined, []],
  ];
  for (const [title, services, observed, expected] of cases)
    it(title, () => assert.deepEqual(drift(services, observed), expected));
});

describe("workload helpers", () => {
  it("podsOf follows controller ownerReferences (Pod → ReplicaSet → Deployment), never labels", () => {
    const pods = [
      pod("web-1", "web"),
      pod("api-1", "api"),
      pod("web-0", "web"),
      { ...pod("lookalike", "web"), ownerReferences: [] },
      { ...pod("adopted", "web"), ...owned("ReplicaSet", "web-7d9", "uid-rs-web", false) },
    ];
    const observation = observed([deployment("web"), deployment("api")], pods);
    assert.deepEqual(
      podsOf(deployment("web"), observation).map((p) => p.name),
      ["web-0", "web-1"],
    );
    // A Deployment deleted and created again under the same name is another object: the old ReplicaSet's pods are not its.
    assert.deepEqual(podsOf(deployment("web", { uid: "uid-deployment-web-again" }), observation), []);
  });

  it("podsOf: a StatefulSet's pods are those it controls by uid", () => {
    const db = { ...deployment("db"), kind: "StatefulSet" as const, uid: "uid-sts-db" };
    const pods = [
      { ...pod("db-0", "db"), ...owned("StatefulSet", "db", "uid-sts-db") },
      { ...pod("db-1", "db"), ...owned("StatefulSet", "db", "uid-sts-other") },
    ];
    assert.deepEqual(
      podsOf(db, { replicaSets: [], pods }).map((p) => p.name),
      ["db-0"],
    );
  });

  it("workloadOf reads drift subjects back into references, and nothing else", () => {
    assert.deepEqual(workloadOf("deployment/web", "shop"), { kind: "Deployment", namespace: "shop", name: "web" });
    assert.deepEqual(workloadOf("statefulset/db", "shop"), { kind: "StatefulSet", namespace: "shop", name: "db" });
    assert.equal(workloadOf("pod/web-1", "shop"), undefined);
    assert.equal(workloadOf("container/etcd0", "shop"), undefined);
  });

  it("inKubernetesTarget: the namespace, then the selector", () => {
    const target = { kubernetes: { namespace: "shop", selector: { tier: "front" } } };
    assert.equal(inKubernetesTarget(target, { namespace: "shop", labels: { tier: "front", app: "x" } }), true);
    assert.equal(inKubernetesTarget(target, { namespace: "shop", labels: { tier: "back" } }), false);
    assert.equal(inKubernetesTarget(target, { namespace: "other", labels: { tier: "front" } }), false);
    assert.equal(inKubernetesTarget({ docker: { project: "x" } }, { namespace: "shop", labels: {} }), false);
  });
});
