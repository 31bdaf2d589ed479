/**
 * Workloads on the test control plane, which has no controller-manager (unless a test
 * brings a node): the test writes what the Deployment and ReplicaSet controllers would — a
 * ReplicaSet whose controller reference is the Deployment, pods whose controller reference
 * is the ReplicaSet (or the StatefulSet) — and the status the kubelet would report. A pod
 * belongs to a workload only through those references.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { kubectlOk } from "./kubectl.js";

export interface Owner {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

export async function uidOf(namespace: string, resource: string): Promise<string> {
  return (await kubectlOk("get", resource, "-n", namespace, "-o", "jsonpath={.metadata.uid}")).trim();
}

async function apply(dir: string, file: string, manifest: unknown): Promise<void> {
  const path = join(dir, file);
  await writeFile(path, JSON.stringify(manifest));
  await kubectlOk("apply", "-f", path);
}

const controllerRef = (owner: Owner): Record<string, unknown> => ({
  ...owner,
  controller: true,
  blockOwnerDeletion: true,
});

/** The ReplicaSet the Deployment controller would create for `deployment`, and its owner reference for pods. */
export async function replicaSetOf(
  dir: string,
  at: { namespace: string; deployment: string; name: string; labels: Record<string, string> },
): Promise<Owner> {
  const deploymentUid = await uidOf(at.namespace, `deployment/${at.deployment}`);
  await apply(dir, `rs-${at.name}.json`, {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: {
      name: at.name,
      namespace: at.namespace,
      labels: at.labels,
      ownerReferences: [
        controllerRef({ apiVersion: "apps/v1", kind: "Deployment", name: at.deployment, uid: deploymentUid }),
      ],
    },
    spec: {
      replicas: 0,
      selector: { matchLabels: at.labels },
      template: {
        metadata: { labels: at.labels },
        spec: { containers: [{ name: "main", image: "steward-demo/web:1" }] },
      },
    },
  });
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    name: at.name,
    uid: await uidOf(at.namespace, `replicaset/${at.name}`),
  };
}

/**
 * A pod on no node (nothing runs it), owned by `owner` when given, with `env` in its spec,
 * and the status a kubelet would write.
 */
export async function createPod(
  dir: string,
  pod: {
    namespace: string;
    name: string;
    labels: Record<string, string>;
    owner?: Owner;
    env?: Record<string, string>;
    state: "ready" | "crashloop";
  },
): Promise<void> {
  await apply(dir, `pod-${pod.name}.json`, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: pod.name,
      namespace: pod.namespace,
      labels: pod.labels,
      ...(pod.owner ? { ownerReferences: [controllerRef(pod.owner)] } : {}),
    },
    spec: {
      nodeName: "node-that-does-not-exist",
      containers: [
        {
          name: "main",
          image: "steward-demo/web:1",
          env: Object.entries(pod.env ?? {}).map(([name, value]) => ({ name, value })),
        },
      ],
    },
  });
  await kubectlOk(
    "patch",
    "pod",
    pod.name,
    "-n",
    pod.namespace,
    "--subresource=status",
    "--type=merge",
    "-p",
    podStatus(pod.state),
  );
}

/** What the kubelet writes for a running, ready pod, or one whose container crash-loops. */
export function podStatus(state: "ready" | "crashloop"): string {
  const container =
    state === "ready"
      ? {
          name: "main",
          ready: true,
          restartCount: 0,
          image: "steward-demo/web:1",
          imageID: "",
          started: true,
          state: { running: { startedAt: "2026-11-24T10:00:00Z" } },
        }
      : {
          name: "main",
          ready: false,
          restartCount: 5,
          image: "steward-demo/web:1",
          imageID: "",
          started: false,
          state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 2m40s restarting failed container" } },
          lastState: {
            terminated: {
              reason: "Error",
              exitCode: 3,
              startedAt: "2026-11-24T10:00:00Z",
              finishedAt: "2026-11-24T10:00:01Z",
            },
          },
        };
  const ready = state === "ready" ? "True" : "False";
  return JSON.stringify({
    status: {
      phase: "Running",
      startTime: "2026-11-24T10:00:00Z",
      conditions: [{ type: "Ready", status: ready, lastTransitionTime: "2026-11-24T10:00:00Z" }],
      containerStatuses: [container],
    },
  });
}

/** A core Event about an object, as the kubelet or a controller would record it. */
export async function recordEvent(
  dir: string,
  event: {
    namespace: string;
    name: string;
    regarding: { kind: string; name: string };
    reason: string;
    message: string;
  },
): Promise<void> {
  const now = new Date().toISOString();
  await apply(dir, `event-${event.name}.json`, {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: event.name, namespace: event.namespace },
    involvedObject: { kind: event.regarding.kind, name: event.regarding.name, namespace: event.namespace },
    reason: event.reason,
    message: event.message,
    type: "Warning",
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
    source: { component: "kubelet" },
  });
}
