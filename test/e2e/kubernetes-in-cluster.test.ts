import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { writeManifest } from "../support/desired-states.js";
import { kubectl, kubectlOk } from "../support/kubectl.js";
import { SYSTEM_NAMESPACE as SYSTEM, writeNodeOverlay } from "../../scripts/lib/node-overlay.js";
import { busyboxDeployment, clusterWithNode, waitForCluster, IDLE, loadImage, readyPods } from "../support/node.js";

/**
 * Steward as a user runs it on kind: the operator image (scripts/operator-image.sh) loaded
 * into the node, `kubectl apply -k` of manifests/, the pod leading on the Lease and fixing
 * drift in another namespace with the manifests' ServiceAccount and RBAC. The overlay
 * (scripts/lib/node-overlay.ts) changes only what this node cannot do as kind does.
 */

const run = promisify(execFile);
const ROOT = new URL("../../", import.meta.url).pathname;
/** The image operator-image.test.ts builds too (the layers are cached between them). */
const IMAGE = "steward-test/operator:dev";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once("error", reject);
  });
}

function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(" ")[1]) : Number.NaN;
}

describe("Steward in the cluster from manifests/, on the real node", () => {
  const ns = `steward-ic-${randomBytes(3).toString("hex")}`;
  let port: number;
  let pod = "";

  before(async () => {
    await clusterWithNode();
    await run("bash", [`${ROOT}scripts/operator-image.sh`, "build"], {
      env: { ...process.env, STEWARD_IMAGE: IMAGE },
      timeout: 600_000,
    });
    await loadImage(IMAGE);
    port = await freePort();
    const apiServer = (await clusterWithNode()).getCurrentCluster()?.server ?? "";
    const overlay = await writeNodeOverlay({
      manifests: join(ROOT, "manifests"),
      image: IMAGE,
      metricsPort: port,
      apiServer,
    });
    await kubectlOk("apply", "-k", overlay);
  });

  after(async () => {
    await kubectl("delete", "namespace", ns, "--wait=false");
    // Gone before the next test file: an in-cluster Steward would reconcile its objects too.
    await kubectl("delete", "namespace", SYSTEM, "--timeout=90s");
  });

  it("rolls out: the pod runs the image as the steward ServiceAccount, and kubelet's probe of /readyz passes", async () => {
    const status = await kubectl("rollout", "status", "deployment/steward", "-n", SYSTEM, "--timeout=90s");
    if (status.code !== 0) {
      const logs = await kubectl("logs", "deployment/steward", "-n", SYSTEM, "--tail=30");
      const described = await kubectl("describe", "pods", "-n", SYSTEM);
      assert.fail(`rollout failed: ${status.stderr}\n${logs.stdout}${logs.stderr}\n${described.stdout}`);
    }
    const pods = JSON.parse(
      await kubectlOk("get", "pods", "-n", SYSTEM, "-l", "app.kubernetes.io/name=steward", "-o", "json"),
    ) as {
      items: {
        metadata: { name: string };
        spec: { serviceAccountName: string; containers: { image: string }[] };
        status: { conditions: { type: string; status: string }[] };
      }[];
    };
    assert.equal(pods.items.length, 1);
    const [item] = pods.items;
    pod = item?.metadata.name ?? "";
    assert.equal(item?.spec.serviceAccountName, "steward");
    assert.equal(item?.spec.containers[0]?.image, IMAGE);
    assert.ok(item?.status.conditions.some((c) => c.type === "Ready" && c.status === "True"));
  });

  it("leads: the Lease steward in steward-system names its pod", async () => {
    const holder = await waitForCluster(
      async () => {
        const out = (await kubectl("get", "lease", "steward", "-n", SYSTEM, "-o", "jsonpath={.spec.holderIdentity}"))
          .stdout;
        return out.startsWith(`${pod}_`) ? out : undefined;
      },
      30_000,
      "the pod to hold the Lease",
    );
    assert.match(holder, new RegExp(`^${pod}_[0-9a-f]+$`));
  });

  it("fixes a drift in another namespace: a Deployment scaled down comes back, its new pod Ready", async () => {
    const dir = await mkdtemp(join(tmpdir(), "steward-ic-"));
    await kubectlOk("create", "namespace", ns);
    const manifests = `${busyboxDeployment({ namespace: ns, name: "web", replicas: 2, script: IDLE, readiness: "true" })}---
apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: shop, namespace: ${ns}}
spec:
  target: {kubernetes: {namespace: ${ns}}}
  services:
    - {name: Deployment/web, replicas: 2, healthy: true}
  remediation:
    agent: {mode: "off"}
`;
    await kubectlOk("apply", "-f", await writeManifest(dir, "shop.yaml", manifests));
    await waitForCluster(
      async () => /^shop\s+True\s/m.test((await kubectl("get", "desiredstates", "-n", ns)).stdout),
      60_000,
      "shop Ready (status written by the in-cluster Steward)",
    );
    await readyPods(ns, "web", 2);
    await kubectlOk("scale", "deployment", "web", "-n", ns, "--replicas=1");
    await waitForCluster(
      async () => (await kubectlOk("get", "deployment", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}")) === "2",
      30_000,
      "web scaled back to 2 by the in-cluster Steward",
    );
    await readyPods(ns, "web", 2);
    const described = await waitForCluster(
      async () => {
        const out = (await kubectl("describe", "desiredstate", "shop", "-n", ns)).stdout;
        return /SimpleFixApplied/.test(out) ? out : undefined;
      },
      10_000,
      "the scale as an Event",
    );
    assert.match(described, /Normal\s+SimpleFixApplied\s+\S+\s+\S+\s+scaled deployment\/web back to 2 replicas/);
  });

  it("its metrics, on the node's loopback: leader, and no reconcile failed for want of a permission", async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    assert.equal(metric(text, "steward_leader"), 1);
    for (const controller of ["desiredstate", "remediation", "notify"])
      assert.equal(metric(text, `steward_reconcile_errors_total{controller="${controller}"}`), 0, controller);
    assert.match(text, /^steward_simple_fixes_total\{action="scale",result="Succeeded"\} [1-9]\d*$/m);
  });
});
