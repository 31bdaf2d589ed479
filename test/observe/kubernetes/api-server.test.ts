import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import { waitFor } from "../../../scripts/lib/wait.js";
import { createLogger } from "../../../src/telemetry/logging.js";
import { ApiServerActions, RESTARTED_AT_ANNOTATION } from "../../../src/act/kubernetes.js";
import { KubernetesWorkloadObserver } from "../../../src/observe/kubernetes/observer.js";
import type { KubernetesObserverEvent } from "../../../src/observe/types.js";
import { cluster } from "../../support/kube.js";
import { kubectl, kubectlOk } from "../../support/kubectl.js";
import { tempStateDir } from "../../support/steward.js";

const logger = createLogger({ format: "json", level: "error" });

function manifests(namespace: string): string {
  const template =
    "template: {metadata: {labels: {app: APP}}, spec: {containers: [{name: main, image: steward-demo/web:1}]}}";
  return `apiVersion: v1
kind: Namespace
metadata: {name: ${namespace}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${namespace}}
spec: {replicas: 2, selector: {matchLabels: {app: web}}, ${template.replace("APP", "web")}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: ${namespace}}
spec: {replicas: 1, serviceName: db, selector: {matchLabels: {app: db}}, ${template.replace("APP", "db")}}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: ${namespace}, labels: {app: web}}
spec: {nodeName: no-such-node, containers: [{name: main, image: steward-demo/web:1}]}
---
apiVersion: v1
kind: Event
metadata: {name: web-1.scheduled, namespace: ${namespace}}
involvedObject: {kind: Pod, name: web-1, namespace: ${namespace}}
reason: BackOff
message: Back-off restarting failed container main
type: Warning
firstTimestamp: "2026-11-24T10:00:00Z"
lastTimestamp: "2026-11-24T10:00:05Z"
count: 3
`;
}

describe("Kubernetes workloads on a real API server", () => {
  const namespace = `steward-obs-${randomBytes(3).toString("hex")}`;
  let kubeConfig: KubeConfig;
  let observer: KubernetesWorkloadObserver;
  let actions: ApiServerActions;
  const events: KubernetesObserverEvent[] = [];

  before(async () => {
    kubeConfig = await cluster();
    const dir = await tempStateDir();
    await writeFile(join(dir, "objects.yaml"), manifests(namespace));
    await kubectlOk("apply", "-f", join(dir, "objects.yaml"));
    observer = new KubernetesWorkloadObserver({ kubeConfig, logger });
    observer.subscribe((event) => events.push(event));
    actions = new ApiServerActions(kubeConfig);
  });

  after(async () => {
    await observer.close();
    await kubectl("delete", "deployments,statefulsets,pods,events", "--all", "-n", namespace, "--wait=false");
    await kubectl("delete", "namespace", namespace, "--wait=false");
  });

  it("lists a namespace on first use: its Deployments, StatefulSets and Pods", async () => {
    assert.equal(observer.namespace(namespace).synced, false, "nothing is listed before the namespace is asked for");
    const view = await waitFor(
      () => {
        const current = observer.namespace(namespace);
        return current.synced ? current : undefined;
      },
      10_000,
      "the namespace listed",
    );
    assert.deepEqual(view.workloads.map((w) => `${w.kind}/${w.name}:${w.replicas}`).sort(), [
      "Deployment/web:2",
      "StatefulSet/db:1",
    ]);
    assert.deepEqual(
      view.pods.map((p) => p.name),
      ["web-1"],
    );
    assert.ok(
      events.some((e) => e.namespace === namespace),
      "listeners hear about the namespace",
    );
  });

  it("follows changes by watch: pod status written as a kubelet would", async () => {
    const status = {
      status: {
        phase: "Running",
        containerStatuses: [
          {
            name: "main",
            ready: false,
            restartCount: 4,
            image: "x",
            imageID: "",
            state: { waiting: { reason: "CrashLoopBackOff" } },
          },
        ],
      },
    };
    await kubectlOk(
      "patch",
      "pod",
      "web-1",
      "-n",
      namespace,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify(status),
    );
    const pod = await waitFor(
      () =>
        observer
          .namespace(namespace)
          .pods.find((p) => p.name === "web-1" && p.containers[0]?.reason === "CrashLoopBackOff"),
      10_000,
      "the pod's new status",
    );
    assert.equal(pod.containers[0]?.restartCount, 4);
  });

  it("scales a Deployment and a StatefulSet through their scale subresources", async () => {
    await actions.scale({ kind: "Deployment", namespace, name: "web" }, 5);
    await actions.scale({ kind: "StatefulSet", namespace, name: "db" }, 0);
    assert.equal(await kubectlOk("get", "deployment", "web", "-n", namespace, "-o", "jsonpath={.spec.replicas}"), "5");
    assert.equal(await kubectlOk("get", "statefulset", "db", "-n", namespace, "-o", "jsonpath={.spec.replicas}"), "0");
    await waitFor(
      () => observer.namespace(namespace).workloads.find((w) => w.name === "web" && w.replicas === 5),
      10_000,
      "the observer sees the new replicas",
    );
  });

  it("rollout restart stamps the pod template as kubectl does", async () => {
    await actions.rolloutRestart({ kind: "Deployment", namespace, name: "web" });
    const stamped = await kubectlOk(
      "get",
      "deployment",
      "web",
      "-n",
      namespace,
      "-o",
      `jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}`,
    );
    assert.ok(
      !Number.isNaN(Date.parse(stamped)),
      `a timestamp in ${RESTARTED_AT_ANNOTATION}, got ${JSON.stringify(stamped)}`,
    );
  });

  it("events: one line per event, filtered by object", async () => {
    const lines = await actions.events(namespace, "web-1");
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.regarding, "pod/web-1");
    assert.match(
      lines[0]?.line ?? "",
      /^2026-11-24T10:00:05.000Z Warning BackOff pod\/web-1 \(x3\): Back-off restarting failed container main$/,
    );
    assert.deepEqual(await actions.events(namespace, "nothing-by-this-name"), []);
  });

  it("logs without a kubelet fail with the API server's reason, not a hang", async () => {
    await assert.rejects(actions.logs(namespace, "web-1", { tail: 10 }), /reading the logs of pod web-1: HTTP \d{3}/);
  });

  it("deleting a pod with another pod's uid as precondition is refused, and the pod stays", async () => {
    await assert.rejects(
      actions.deletePod(namespace, { name: "web-1", uid: "00000000-0000-0000-0000-000000000000" }),
      /deleting pod web-1: .*(409|Precondition failed)/i,
    );
    assert.equal(
      await kubectl("get", "pod", "web-1", "-n", namespace, "-o", "jsonpath={.metadata.deletionTimestamp}").then(
        (r) => r.stdout,
      ),
      "",
    );
  });

  it("deleting a pod asks for its graceful deletion", async () => {
    const uid = (await kubectl("get", "pod", "web-1", "-n", namespace, "-o", "jsonpath={.metadata.uid}")).stdout;
    await actions.deletePod(namespace, { name: "web-1", uid });
    const deleting = await kubectl(
      "get",
      "pod",
      "web-1",
      "-n",
      namespace,
      "-o",
      "jsonpath={.metadata.deletionTimestamp}",
    );
    assert.ok(deleting.code !== 0 || deleting.stdout !== "", "the pod is gone or terminating");
    await waitFor(
      () =>
        observer.namespace(namespace).pods.find((p) => p.name === "web-1" && p.terminating) ??
        observer.namespace(namespace).pods.length === 0,
      10_000,
      "the observer sees it terminating",
    );
  });

  it("a namespace the API server refuses to list reports why", async () => {
    const forbidden = new KubernetesWorkloadObserver({
      kubeConfig: withToken(kubeConfig, "not-a-valid-token"),
      logger,
    });
    try {
      const view = await waitFor(
        () => {
          const current = forbidden.namespace(namespace);
          return current.error ? current : undefined;
        },
        10_000,
        "an error for the namespace",
      );
      assert.equal(view.synced, false);
      assert.match(view.error ?? "", /401|Unauthorized/);
    } finally {
      await forbidden.close();
    }
  });
});

/** The same cluster and context, with another bearer token. */
function withToken(kubeConfig: KubeConfig, token: string): KubeConfig {
  const copy = new KubeConfig();
  const user = kubeConfig.getCurrentUser();
  copy.loadFromOptions({
    clusters: kubeConfig.clusters,
    contexts: kubeConfig.contexts,
    currentContext: kubeConfig.currentContext,
    users: kubeConfig.users.map((u) => (u.name === user?.name ? { ...u, token } : u)),
  });
  return copy;
}
