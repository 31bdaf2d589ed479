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
import type { KubernetesObserverEvent, PodSnapshot } from "../../../src/observe/types.js";
import { BUSYBOX, busyboxDeployment, clusterWithNode, IDLE } from "../../support/node.js";
import { kubectl, kubectlOk } from "../../support/kubectl.js";
import { tempStateDir } from "../../support/steward.js";

const logger = createLogger({ format: "json", level: "error" });

function manifests(namespace: string): string {
  return [
    `apiVersion: v1
kind: Namespace
metadata: {name: ${namespace}}
`,
    busyboxDeployment({ namespace, name: "web", replicas: 2, script: IDLE, readiness: "true" }),
    busyboxDeployment({ namespace, name: "crash", replicas: 1, script: 'echo "boom: exiting with 3"; exit 3' }),
    `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: ${namespace}}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      hostNetwork: true
      terminationGracePeriodSeconds: 5
      containers: [{name: main, image: ${BUSYBOX}, imagePullPolicy: Never, command: [sh, -c, "trap 'exit 0' TERM; ${IDLE}"]}]
`,
  ].join("---\n");
}

/**
 * The observer and the actions against the test cluster with its node: the pods, their
 * statuses, logs and Events are kubelet's and the controllers' own.
 */
describe("Kubernetes workloads on a real API server and node", () => {
  const namespace = `steward-obs-${randomBytes(3).toString("hex")}`;
  let kubeConfig: KubeConfig;
  let observer: KubernetesWorkloadObserver;
  let actions: ApiServerActions;
  const events: KubernetesObserverEvent[] = [];
  const podsOfApp = (app: string): PodSnapshot[] =>
    observer.namespace(namespace).pods.filter((p) => p.labels.app === app);

  before(async () => {
    kubeConfig = await clusterWithNode();
    const dir = await tempStateDir();
    await writeFile(join(dir, "objects.yaml"), manifests(namespace));
    await kubectlOk("apply", "-f", join(dir, "objects.yaml"));
    observer = new KubernetesWorkloadObserver({ kubeConfig, logger });
    observer.subscribe((event) => events.push(event));
    actions = new ApiServerActions(kubeConfig);
  });

  after(async () => {
    await observer.close();
    await kubectl("delete", "namespace", namespace, "--wait=false");
  });

  it("lists a namespace on first use: its Deployments, StatefulSets and the pods their controllers made", async () => {
    assert.equal(observer.namespace(namespace).synced, false, "nothing is listed before the namespace is asked for");
    const view = await waitFor(
      () => {
        const current = observer.namespace(namespace);
        return current.synced && current.pods.length === 4 ? current : undefined;
      },
      30_000,
      "the namespace listed with its four pods",
    );
    assert.deepEqual(view.workloads.map((w) => `${w.kind}/${w.name}:${w.replicas}`).sort(), [
      "Deployment/crash:1",
      "Deployment/web:2",
      "StatefulSet/db:1",
    ]);
    assert.deepEqual(view.pods.map((p) => p.labels.app).sort(), ["crash", "db", "web", "web"]);
    assert.ok(
      view.pods.some((p) => p.name === "db-0"),
      "the StatefulSet's pod",
    );
    assert.ok(
      events.some((e) => e.namespace === namespace),
      "listeners hear about the namespace",
    );
  });

  it("follows kubelet by watch: readiness, and a crash loop with its restarts and last termination", async () => {
    await waitFor(
      () => {
        const web = observer.namespace(namespace).workloads.find((w) => w.name === "web");
        return web?.readyReplicas === 2 && podsOfApp("web").every((p) => p.ready && p.phase === "Running");
      },
      30_000,
      "web's two pods Ready",
    );
    const [pod] = await waitFor(
      () => {
        const pods = podsOfApp("crash");
        return pods[0]?.containers[0]?.reason === "CrashLoopBackOff" ? pods : undefined;
      },
      30_000,
      "the crash pod in CrashLoopBackOff",
    );
    const [container] = pod?.containers ?? [];
    assert.equal(container?.state, "waiting");
    assert.ok((container?.restartCount ?? 0) >= 1, "kubelet counted its restarts");
    assert.equal(container?.lastTermination?.reason, "Error");
    assert.equal(container?.lastTermination?.exitCode, 3);
    assert.equal(pod?.ready, false);
  });

  it("logs: the previous run of a crash-looping container, and a running one's", async () => {
    const [crash] = podsOfApp("crash");
    assert.deepEqual(await actions.logs(namespace, crash?.name ?? "", { tail: 10, previous: true }), [
      "boom: exiting with 3",
    ]);
    assert.deepEqual(await actions.logs(namespace, "db-0", { tail: 10 }), []);
  });

  it("events: kubelet's, one line per event, filtered by object", async () => {
    const [crash] = podsOfApp("crash");
    const lines = await waitFor(
      async () => {
        const found = await actions.events(namespace, crash?.name);
        return found.some((l) => / BackOff /.test(l.line)) ? found : undefined;
      },
      30_000,
      "kubelet's BackOff event",
    );
    for (const { regarding, line } of lines) {
      assert.equal(regarding, `pod/${crash?.name}`);
      assert.match(line, new RegExp(`^\\S+Z (Normal|Warning) \\S+ pod/${crash?.name}( \\(x\\d+\\))?: `));
    }
    assert.ok(
      lines.some((l) => /Warning BackOff pod\/\S+( \(x\d+\))?: Back-off restarting failed container main/.test(l.line)),
    );
    assert.deepEqual(await actions.events(namespace, "nothing-by-this-name"), []);
  });

  it("scales a Deployment and a StatefulSet through their scale subresources; the controllers follow", async () => {
    await actions.scale({ kind: "Deployment", namespace, name: "web" }, 3);
    await actions.scale({ kind: "StatefulSet", namespace, name: "db" }, 0);
    assert.equal(await kubectlOk("get", "deployment", "web", "-n", namespace, "-o", "jsonpath={.spec.replicas}"), "3");
    assert.equal(await kubectlOk("get", "statefulset", "db", "-n", namespace, "-o", "jsonpath={.spec.replicas}"), "0");
    await waitFor(
      () => {
        const web = observer.namespace(namespace).workloads.find((w) => w.name === "web");
        return web?.replicas === 3 && web.readyReplicas === 3 && podsOfApp("db").length === 0;
      },
      30_000,
      "three Ready web pods and no db pod",
    );
  });

  it("rollout restart stamps the pod template as kubectl does, and every pod is replaced", async () => {
    const before = new Set(podsOfApp("web").map((p) => p.name));
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
    await waitFor(
      () => {
        const pods = podsOfApp("web");
        const web = observer.namespace(namespace).workloads.find((w) => w.name === "web");
        return (
          pods.length === 3 &&
          pods.every((p) => !before.has(p.name) && p.ready) &&
          web?.updatedReplicas === 3 &&
          web.readyReplicas === 3
        );
      },
      60_000,
      "three new Ready pods",
    );
  });

  it("deleting a pod with another pod's uid as precondition is refused, and the pod stays", async () => {
    const [pod] = podsOfApp("web");
    const name = pod?.name ?? "";
    await assert.rejects(
      actions.deletePod(namespace, { name, uid: "00000000-0000-0000-0000-000000000000" }),
      new RegExp(`deleting pod ${name}: .*(409|Precondition failed)`, "i"),
    );
    const deletion = await kubectlOk(
      "get",
      "pod",
      name,
      "-n",
      namespace,
      "-o",
      "jsonpath={.metadata.deletionTimestamp}",
    );
    assert.equal(deletion, "", "the pod is not terminating");
  });

  it("deleting a pod asks for its graceful deletion; its ReplicaSet makes another", async () => {
    const [victim] = podsOfApp("web");
    await actions.deletePod(namespace, { name: victim?.name ?? "", uid: victim?.uid });
    await waitFor(
      () => {
        const pods = podsOfApp("web");
        return !pods.some((p) => p.name === victim?.name) && pods.length === 3 && pods.every((p) => p.ready);
      },
      30_000,
      "the pod gone and a new one Ready",
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
