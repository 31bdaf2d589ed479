import { execFile } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import type { KubeConfig } from "@kubernetes/client-node";
import { waitFor } from "../../scripts/lib/wait.js";
import { cluster } from "./kube.js";
import { kubectl, kubectlOk } from "./kubectl.js";

/**
 * The test cluster's one node (`scripts/control-plane.sh up --node`): pods really run there.
 * scripts/test.sh starts it for every test file that imports this module. Its limits shape
 * the manifests below: pods use the host's network (no pod network, no Services, no DNS),
 * and images are the ones imported into its containerd, never pulled.
 */

const run = promisify(execFile);
const CONTROL_PLANE = new URL("../../scripts/control-plane.sh", import.meta.url).pathname;

/** The node's name (and InternalIP): kubelet runs with --hostname-override 127.0.0.1. */
export const NODE_NAME = "127.0.0.1";
/** Debian's static busybox with every applet, imported into the node's containerd. */
export const BUSYBOX = "steward-node/busybox:1";

const HOW_TO_START =
  'no node: run the test through scripts/test.sh, or start one with `bash scripts/control-plane.sh build --node && eval "$(bash scripts/control-plane.sh up --node)"` (root)';

let ready: Promise<KubeConfig> | undefined;

/**
 * A waitFor check that runs kubectl, paced: waitFor polls every 25 ms, and a kubectl process
 * every 25 ms for a minute would take a core from the kubelet and API server it waits on.
 */
export function paced<T>(check: () => Promise<T>, intervalMs = 250): () => Promise<T> {
  let last = 0;
  return async () => {
    const wait = last + intervalMs - Date.now();
    if (wait > 0) await sleep(wait);
    last = Date.now();
    return check();
  };
}

/** The cluster (CRDs installed, see cluster()) with its node Ready, once per file. */
export function clusterWithNode(): Promise<KubeConfig> {
  ready ??= (async () => {
    const kubeConfig = await cluster();
    const node = await kubectl(
      "get",
      "node",
      NODE_NAME,
      "-o",
      'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
    );
    if (node.stdout !== "True") throw new Error(`${HOW_TO_START} (${node.stderr.trim() || "node not Ready"})`);
    return kubeConfig;
  })();
  return ready;
}

/** waitFor, with the check paced (see paced): for checks that run kubectl. */
export function waitForCluster<T>(
  check: () => Promise<T>,
  timeoutMs: number,
  description: string,
): Promise<NonNullable<T>> {
  return waitFor(paced(check), timeoutMs, description);
}

/** Copies a local Docker image into the node's containerd, as `kind load docker-image` does. */
export async function loadImage(image: string): Promise<void> {
  await run("bash", [CONTROL_PLANE, "load-image", image], { timeout: 300_000 });
}

export interface PodState {
  name: string;
  uid: string;
  ready: boolean;
  /** When the Ready condition last changed (RFC 3339, whole seconds). */
  readySince: string | undefined;
  terminating: boolean;
  restartCount: number;
  waitingReason: string | undefined;
  /** kind/name of each owner, as ownerReferences say. */
  owners: string[];
}

interface PodJson {
  metadata: {
    name: string;
    uid: string;
    deletionTimestamp?: string;
    ownerReferences?: { kind: string; name: string }[];
  };
  status?: {
    conditions?: { type: string; status: string; lastTransitionTime?: string }[];
    containerStatuses?: { restartCount: number; state?: { waiting?: { reason?: string } } }[];
  };
}

/** The pods with the label app=<app> in the namespace, by name. */
export async function podsWithApp(namespace: string, app: string): Promise<PodState[]> {
  const list = JSON.parse(await kubectlOk("get", "pods", "-n", namespace, "-l", `app=${app}`, "-o", "json")) as {
    items: PodJson[];
  };
  return list.items
    .map((pod): PodState => {
      const readyCondition = pod.status?.conditions?.find((c) => c.type === "Ready");
      const container = pod.status?.containerStatuses?.[0];
      return {
        name: pod.metadata.name,
        uid: pod.metadata.uid,
        ready: readyCondition?.status === "True",
        readySince: readyCondition?.lastTransitionTime,
        terminating: pod.metadata.deletionTimestamp !== undefined,
        restartCount: container?.restartCount ?? 0,
        waitingReason: container?.state?.waiting?.reason,
        owners: (pod.metadata.ownerReferences ?? []).map((o) => `${o.kind}/${o.name}`),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Waits until exactly `count` pods with app=<app> run Ready (none terminating) and returns them. */
export function readyPods(namespace: string, app: string, count: number, timeoutMs = 60_000): Promise<PodState[]> {
  return waitForCluster(
    async () => {
      const pods = await podsWithApp(namespace, app);
      return pods.length === count && pods.every((p) => p.ready && !p.terminating) ? pods : undefined;
    },
    timeoutMs,
    `${count} Ready pods of app=${app} in ${namespace}`,
  );
}

/** The end of a script that keeps the container running until SIGTERM. */
export const IDLE = "sleep 1000000 & wait";

export interface BusyboxDeployment {
  namespace: string;
  name: string;
  replicas: number;
  /** The container's shell script; it runs as `sh -c`. SIGTERM ends it at once. */
  script: string;
  /** A shell command run as the exec readiness probe; none when omitted. */
  readiness?: string;
  /** Seconds before the first readiness probe (default 0). */
  readinessDelay?: number;
  labels?: Record<string, string>;
  /** Extra pod spec YAML (volumes, init containers), indented under `spec:` of the template. */
  extraPodSpec?: string;
  /** Extra container YAML (volume mounts), indented under the container. */
  extraContainer?: string;
  strategy?: "RollingUpdate" | "Recreate";
}

/**
 * A Deployment of busybox pods on the host network, as this node can run them. The script
 * runs under a shell that exits on SIGTERM (end it with IDLE to keep it running), so a pod
 * being replaced stops in a second, not after the grace period.
 */
export function busyboxDeployment(d: BusyboxDeployment): string {
  const labels = Object.entries({ app: d.name, ...d.labels })
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join(", ");
  const readiness = d.readiness
    ? `
          readinessProbe:
            exec: {command: [sh, -c, ${JSON.stringify(d.readiness)}]}
            initialDelaySeconds: ${d.readinessDelay ?? 0}
            periodSeconds: 1
            failureThreshold: 1`
    : "";
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${d.name}, namespace: ${d.namespace}, labels: {${labels}}}
spec:
  replicas: ${d.replicas}
  strategy: {type: ${d.strategy ?? "RollingUpdate"}}
  selector: {matchLabels: {app: ${d.name}}}
  template:
    metadata: {labels: {${labels}}}
    spec:
      hostNetwork: true
      terminationGracePeriodSeconds: 5
      enableServiceLinks: false
      containers:
        - name: main
          image: ${BUSYBOX}
          imagePullPolicy: Never
          command: [sh, -c, ${JSON.stringify(`trap 'exit 0' TERM; ${d.script}`)}]${readiness}${d.extraContainer ?? ""}${d.extraPodSpec ?? ""}
`;
}
