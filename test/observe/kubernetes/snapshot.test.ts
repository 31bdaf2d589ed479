import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toPodSnapshot, toReplicaSetSnapshot, toWorkloadSnapshot } from "../../../src/observe/kubernetes/snapshot.js";

describe("toWorkloadSnapshot", () => {
  it("reads what a Deployment declares and what its controller reports", () => {
    const raw = {
      metadata: { name: "web", namespace: "shop", uid: "u-web", labels: { tier: "front" }, generation: 4 },
      spec: { replicas: 3, selector: { matchLabels: { app: "web" } } },
      status: { readyReplicas: 2, updatedReplicas: 3, observedGeneration: 4 },
    };
    assert.deepEqual(toWorkloadSnapshot("Deployment", raw), {
      kind: "Deployment",
      namespace: "shop",
      name: "web",
      uid: "u-web",
      labels: { tier: "front" },
      selector: { app: "web" },
      replicas: 3,
      readyReplicas: 2,
      updatedReplicas: 3,
      generation: 4,
      observedGeneration: 4,
    });
  });

  it("an empty status counts as nothing ready; spec.replicas defaults to 1", () => {
    const snapshot = toWorkloadSnapshot("StatefulSet", { metadata: { name: "db", namespace: "shop" }, spec: {} });
    assert.equal(snapshot?.replicas, 1);
    assert.equal(snapshot?.readyReplicas, 0);
  });

  it("malformed objects give undefined, never a throw", () => {
    for (const raw of [
      undefined,
      null,
      3,
      "x",
      [],
      { metadata: { name: "x" } },
      { metadata: { name: 1, namespace: "a" } },
    ]) {
      assert.equal(toWorkloadSnapshot("Deployment", raw), undefined);
    }
  });
});

describe("toReplicaSetSnapshot", () => {
  it("keeps the owner references: the link from a Deployment to its pods", () => {
    const raw = {
      metadata: {
        name: "web-7d9",
        namespace: "shop",
        uid: "u-rs",
        labels: { app: "web" },
        ownerReferences: [{ kind: "Deployment", name: "web", uid: "u-web", controller: true }],
      },
    };
    assert.deepEqual(toReplicaSetSnapshot(raw), {
      namespace: "shop",
      name: "web-7d9",
      uid: "u-rs",
      labels: { app: "web" },
      ownerReferences: [{ kind: "Deployment", name: "web", uid: "u-web", controller: true }],
    });
    assert.equal(toReplicaSetSnapshot({ metadata: { name: "x" } }), undefined);
  });
});

describe("toPodSnapshot", () => {
  it("reads readiness, the container state and reason, and the last termination (Dates or strings)", () => {
    const raw = {
      metadata: {
        name: "web-1",
        namespace: "shop",
        uid: "u-web-1",
        labels: { app: "web", bad: 3 },
        ownerReferences: [
          { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-7d9", uid: "u-rs", controller: true },
          { kind: "ConfigMap", name: "x" },
        ],
      },
      spec: {
        containers: [
          {
            name: "main",
            args: ["--password", "p4ssw0rd-main", "--port=80"],
            env: [
              { name: "DB_URL", value: "postgres://db/app" },
              { name: "FROM_SECRET", valueFrom: { secretKeyRef: { name: "s", key: "k" } } },
            ],
          },
        ],
        initContainers: [{ name: "init", env: [{ name: "INIT_TOKEN", value: "init-token-value" }] }],
      },
      status: {
        phase: "Running",
        startTime: new Date("2026-11-24T10:00:00Z"),
        conditions: [{ type: "Ready", status: "False" }],
        containerStatuses: [
          {
            name: "main",
            ready: false,
            restartCount: 7,
            state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 5m0s" } },
            lastState: { terminated: { reason: "Error", exitCode: 2, finishedAt: "2026-11-24T10:05:00Z" } },
          },
        ],
      },
    };
    assert.deepEqual(toPodSnapshot(raw), {
      namespace: "shop",
      name: "web-1",
      uid: "u-web-1",
      labels: { app: "web" },
      // Malformed references (no uid) are no owner.
      ownerReferences: [{ kind: "ReplicaSet", name: "web-7d9", uid: "u-rs", controller: true }],
      // Literal env values and secret arguments; a secretKeyRef has no value in the pod and is not fetched.
      secretValues: ["postgres://db/app", "p4ssw0rd-main", "init-token-value"],
      phase: "Running",
      ready: false,
      terminating: false,
      startTime: "2026-11-24T10:00:00.000Z",
      containers: [
        {
          name: "main",
          ready: false,
          restartCount: 7,
          state: "waiting",
          reason: "CrashLoopBackOff",
          lastTermination: { reason: "Error", exitCode: 2, finishedAt: "2026-11-24T10:05:00Z" },
        },
      ],
    });
  });

  it("a pod with no status yet is Unknown and not ready", () => {
    const snapshot = toPodSnapshot({ metadata: { name: "p", namespace: "n" } });
    assert.equal(snapshot?.phase, "Unknown");
    assert.equal(snapshot?.ready, false);
    assert.equal(snapshot?.terminating, false);
    assert.deepEqual(snapshot?.containers, []);
    assert.equal(
      toPodSnapshot({ metadata: { name: "p", namespace: "n", deletionTimestamp: "2026-11-24T10:00:00Z" } })
        ?.terminating,
      true,
    );
  });
});
