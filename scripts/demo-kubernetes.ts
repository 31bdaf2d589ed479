/**
 * `npm run demo -- --kubernetes`: the compose demo's story on a Kubernetes cluster with one
 * real node (scripts/control-plane.sh up --node), following the README's "Run on kind":
 * the operator image loaded into the node, `kubectl apply -k` of manifests/ (through the
 * node's overlay, scripts/lib/node-overlay.ts), the shop example, a Deployment scaled down
 * and brought back, and a bad release whose crash loop opens a remediation. Everything it
 * made is removed at the end; the cluster is stopped if the demo started it.
 */
import { execFile } from "node:child_process";
import { writeFile, mkdtemp } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { SYSTEM_NAMESPACE, writeNodeOverlay } from "./lib/node-overlay.js";
import { waitFor } from "./lib/wait.js";

const run = promisify(execFile);
const ROOT = new URL("../", import.meta.url).pathname;
const CONTROL_PLANE = join(ROOT, "scripts/control-plane.sh");
/** Not steward:dev, so a developer's own build of the real image is left alone. */
const IMAGE = "steward-demo/operator:dev";
const SHOP = "shop";

function say(text: string): void {
  process.stdout.write(`\n\x1b[1m==> ${text}\x1b[0m\n`);
}

async function controlPlane(...args: string[]): Promise<string> {
  const { stdout } = await run("bash", [CONTROL_PLANE, ...args], { timeout: 3_600_000 });
  return stdout.trim();
}

let kubectlPath = "";

async function kubectl(...args: string[]): Promise<string> {
  const { stdout, stderr } = await run(kubectlPath, args, { timeout: 120_000 });
  return (stdout + stderr).trimEnd();
}

/** Prints the command, as a person would type it, and its output. */
async function show(...args: string[]): Promise<string> {
  const out = await kubectl(...args);
  process.stdout.write(`$ kubectl ${args.join(" ")}\n${out}\n`);
  return out;
}

/** Polls a kubectl check twice a second (not waitFor's 25 ms: each check is a process). */
function every500ms<T>(check: () => Promise<T>): () => Promise<T> {
  return async () => {
    await new Promise((resolve) => setTimeout(resolve, 500));
    return check();
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once("error", reject);
  });
}

/** The cluster with its node: a running one is used as it is; otherwise started. Returns whether the demo started it. */
async function ensureCluster(): Promise<boolean> {
  let started = false;
  try {
    await controlPlane("status", "--node");
  } catch {
    say(
      "Starting a Kubernetes cluster with one node: scripts/control-plane.sh up --node (etcd, kube-apiserver, scheduler, controller-manager, containerd, kubelet; 127.0.0.1 only). The first run builds them from the Go module proxy: about 11 minutes on 2 idle cores.",
    );
    await run("bash", [CONTROL_PLANE, "build", "--node"], { timeout: 3_600_000 }).catch((err: unknown) => {
      throw new Error(`building the cluster failed: ${String(err)}`, { cause: err });
    });
    await controlPlane("up", "--node");
    started = true;
  }
  process.env.KUBECONFIG = (await controlPlane("env")).replace(/^export KUBECONFIG=/, "");
  kubectlPath = join(await controlPlane("bindir"), "kubectl");
  return started;
}

async function installSteward(): Promise<void> {
  say(
    `docker build + kind load docker-image, here: scripts/operator-image.sh build; control-plane.sh load-image ${IMAGE}`,
  );
  await run("bash", [join(ROOT, "scripts/operator-image.sh"), "build"], {
    env: { ...process.env, STEWARD_IMAGE: IMAGE },
    timeout: 900_000,
  });
  await run("bash", [CONTROL_PLANE, "load-image", IMAGE], { timeout: 300_000 });
  const overlay = await writeNodeOverlay({
    manifests: join(ROOT, "manifests"),
    image: IMAGE,
    metricsPort: await freePort(),
    apiServer: await kubectl("config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"),
  });
  say(
    "kubectl apply -k manifests/ — through an overlay for this node: host network, one replica, the API server's address, the loaded image (scripts/lib/node-overlay.ts)",
  );
  await show("apply", "-k", overlay);
  if (process.env.ANTHROPIC_API_KEY) {
    await kubectl(
      "-n",
      SYSTEM_NAMESPACE,
      "create",
      "secret",
      "generic",
      "steward-anthropic",
      `--from-literal=api-key=${process.env.ANTHROPIC_API_KEY}`,
    );
    process.stdout.write("created secret steward-anthropic from ANTHROPIC_API_KEY: remediations go to Claude\n");
  }
  await show("-n", SYSTEM_NAMESPACE, "rollout", "status", "deployment/steward", "--timeout=180s");
}

/** The README's shop, on this node: busybox on the host network instead of nginx. */
function shopDeployment(command: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${SHOP}, labels: {app.kubernetes.io/part-of: shop}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, app.kubernetes.io/part-of: shop}}
    spec:
      hostNetwork: true
      terminationGracePeriodSeconds: 5
      containers:
        - name: web
          image: steward-node/busybox:1
          imagePullPolicy: Never
          command: [sh, -c, ${JSON.stringify(command)}]
          readinessProbe: {exec: {command: [test, -f, /tmp/serving]}, periodSeconds: 1}
`;
}

const SERVE = "trap 'exit 0' TERM; echo serving; touch /tmp/serving; sleep 1000000 & wait";
const BAD_RELEASE = 'echo "fatal: cannot read /etc/web/config.yaml: no such file"; exit 1';

async function readyWebPods(count: number): Promise<void> {
  await waitFor(
    every500ms(async () => {
      const out = await kubectl(
        "get",
        "deployment",
        "web",
        "-n",
        SHOP,
        "-o",
        "jsonpath={.spec.replicas} {.status.readyReplicas}",
      );
      return out === `${count} ${count}`;
    }),
    120_000,
    `${count} Ready web pods`,
  );
}

async function remediationOf(type: string): Promise<string> {
  return waitFor(
    every500ms(async () => {
      const out = await kubectl(
        "get",
        "rem",
        "-n",
        SHOP,
        "-o",
        'jsonpath={range .items[*]}{.metadata.name} {.spec.drift[0].type}{"\\n"}{end}',
      );
      return new RegExp(`^(\\S+) ${type}$`, "m").exec(out)?.[1];
    }),
    120_000,
    `a ${type} remediation`,
  );
}

async function shopStory(dir: string): Promise<void> {
  say(
    "Something to keep in shape: namespace shop, Deployment web (3 replicas), examples/kubernetes/desired-state.yaml",
  );
  await show("create", "namespace", SHOP);
  await writeFile(join(dir, "web.yaml"), shopDeployment(SERVE));
  await show("apply", "-f", join(dir, "web.yaml"));
  await show("apply", "-f", join(ROOT, "examples/kubernetes/desired-state.yaml"));
  await readyWebPods(3);
  await remediationOf("WorkloadMissing");
  await show("get", "desiredstates", "-n", SHOP);
  await show("get", "remediations", "-n", SHOP);
  process.stdout.write("(StatefulSet/redis does not exist: WorkloadMissing, waiting for a person or the agent)\n");

  say("Breaking it: kubectl scale deployment web -n shop --replicas=1");
  const scaled = Date.now();
  await show("scale", "deployment", "web", "-n", SHOP, "--replicas=1");
  await waitFor(
    every500ms(
      async () => (await kubectl("get", "deployment", "web", "-n", SHOP, "-o", "jsonpath={.spec.replicas}")) === "3",
    ),
    60_000,
    "web scaled back to 3",
  );
  const back = Date.now();
  await readyWebPods(3);
  say(
    `Steward scaled web back to 3 replicas ${back - scaled} ms after the scale; kubelet ran the new pods Ready ${Date.now() - scaled} ms after it; no model, zero tokens`,
  );
  await show("get", "pods", "-n", SHOP, "-o", "wide");
  await show("describe", "desiredstate", "shop", "-n", SHOP);

  say("Breaking it differently: a release whose container exits 1 (kubectl apply of a new pod template)");
  await writeFile(join(dir, "web-bad.yaml"), shopDeployment(BAD_RELEASE));
  await show("apply", "-f", join(dir, "web-bad.yaml"));
  const crash = await remediationOf("PodCrashLooping");
  await show("get", "desiredstates,remediations", "-n", SHOP);
  await show("describe", "remediation", crash, "-n", SHOP);

  say("kubectl rollout undo deployment/web -n shop: the crash-looping pod goes, and its remediation closes by itself");
  await show("rollout", "undo", "deployment/web", "-n", SHOP);
  // Without a model it waits for a person (Pending), so the drift clearing closes it (DriftCleared).
  await waitFor(
    every500ms(
      async () => (await kubectl("get", "rem", crash, "-n", SHOP, "-o", "jsonpath={.status.phase}")) === "Resolved",
    ),
    120_000,
    "the crash-loop remediation Resolved",
  );
  await show("get", "desiredstates,remediations", "-n", SHOP);
}

export async function kubernetesDemo(keep: boolean): Promise<void> {
  const started = await ensureCluster();
  await show("get", "nodes", "-o", "wide");
  const dir = await mkdtemp(join(tmpdir(), "steward-demo-k8s-"));
  try {
    await installSteward();
    await shopStory(dir);
  } finally {
    if (keep) {
      say(
        `Left running: namespaces ${SHOP} and ${SYSTEM_NAMESPACE}; KUBECONFIG=${process.env.KUBECONFIG ?? ""}; stop all with: bash scripts/control-plane.sh down`,
      );
    } else if (started) {
      say("Tearing down the cluster and its node (scripts/control-plane.sh down)");
      await controlPlane("down");
    } else {
      say(`Deleting namespaces ${SHOP} and ${SYSTEM_NAMESPACE} (the cluster was running before the demo; it stays)`);
      await kubectl("delete", "namespace", SHOP, SYSTEM_NAMESPACE, "--timeout=120s").catch(() => "");
    }
  }
}
