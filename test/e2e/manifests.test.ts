import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { containerState, docker } from "../../scripts/lib/cluster.js";
import { waitFor } from "../../scripts/lib/wait.js";
import { writeManifest } from "../support/desired-states.js";
import { FakeMessagesServer, toolUse } from "../support/fake-anthropic.js";
import { busyboxDeployment, clusterWithNode, IDLE, readyPods } from "../support/node.js";
import { kubectl, kubectlOk } from "../support/kubectl.js";
import { serviceAccountKubeconfig } from "../support/service-account.js";
import { StewardProcess, tempStateDir } from "../support/steward.js";

/**
 * manifests/ on the test cluster (RBAC authorization on, with its node), and Steward run out
 * of cluster with the manifests' ServiceAccount token: it can do its work, and nothing
 * outside its role. (test/e2e/kubernetes-in-cluster.test.ts runs the Deployment itself.)
 */

const MANIFESTS = new URL("../../manifests/", import.meta.url).pathname;
const SYSTEM = "steward-system";
const SA_USER = "system:serviceaccount:steward-system:steward";

async function applyManifests(): Promise<string> {
  await clusterWithNode();
  const applied = await kubectl("apply", "-k", MANIFESTS);
  assert.equal(applied.code, 0, applied.stderr);
  return applied.stderr;
}

function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(" ")[1]) : Number.NaN;
}

describe("kubectl apply -k manifests/ on a real kube-apiserver", () => {
  let state: string;

  before(async () => {
    state = await tempStateDir();
  });

  it("creates the namespace, CRDs, ServiceAccount, RBAC, Deployment and metrics Service, with no Pod Security warning", async () => {
    const warnings = await applyManifests();
    assert.doesNotMatch(warnings, /PodSecurity|would violate/);
    const objects = await kubectlOk(
      "get",
      "namespace/steward-system",
      "serviceaccount/steward",
      "deployment/steward",
      "service/steward-metrics",
      "role/steward-leader-election",
      "-n",
      SYSTEM,
      "-o",
      "name",
    );
    assert.deepEqual(objects.trim().split("\n"), [
      "namespace/steward-system",
      "serviceaccount/steward",
      "deployment.apps/steward",
      "service/steward-metrics",
      "role.rbac.authorization.k8s.io/steward-leader-election",
    ]);
    const crds = await kubectlOk("get", "crd", "-o", "name");
    for (const plural of ["desiredstates", "remediations", "remediationpolicies"])
      assert.match(crds, new RegExp(`${plural}\\.steward\\.dev`));
    assert.match(await kubectlOk("apply", "-k", MANIFESTS), /deployment\.apps\/steward unchanged/);
  });

  it("the Deployment's pod is admitted in steward-system, whose namespace enforces the restricted Pod Security level", async () => {
    await applyManifests();
    const deployment = JSON.parse(await kubectlOk("get", "deployment", "steward", "-n", SYSTEM, "-o", "json")) as {
      spec: { replicas: number; template: { spec: unknown } };
    };
    assert.equal(deployment.spec.replicas, 2);
    // ServiceAccount admission is on: a pod without serviceAccountName needs the token
    // controller's default ServiceAccount in the new namespace.
    await waitFor(
      async () => (await kubectl("get", "serviceaccount", "default", "-n", SYSTEM)).code === 0,
      10_000,
      "the default ServiceAccount in steward-system",
    );
    const pod = (spec: unknown): string =>
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "steward-admission-check", namespace: SYSTEM },
        spec,
      });
    const admitted = await kubectl(
      "create",
      "--dry-run=server",
      "-f",
      await writeManifest(state, "pod.json", pod(deployment.spec.template.spec)),
    );
    assert.equal(admitted.code, 0, admitted.stderr);
    const root = await kubectl(
      "create",
      "--dry-run=server",
      "-f",
      await writeManifest(state, "root.json", pod({ containers: [{ name: "c", image: "steward:dev" }] })),
    );
    assert.notEqual(root.code, 0);
    assert.match(root.stderr, /violates PodSecurity "restricted/);
  });
});

describe("RBAC: steward run with the manifests' ServiceAccount token", () => {
  const id = randomBytes(4).toString("hex");
  /** This file's own namespace; Steward watches only it, so other tests' objects are not its business. */
  const ns = `steward-rbac-${id}`;
  const container = `steward-rbac-${id}`;
  let state: string;
  let kubeconfig: string;
  let steward: StewardProcess;
  let fake: FakeMessagesServer;
  const usage = { input_tokens: 100, output_tokens: 10, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
  const asSteward = (...args: string[]): ReturnType<typeof kubectl> => kubectl("--kubeconfig", kubeconfig, ...args);
  const canI = async (...args: string[]): Promise<string> => (await asSteward("auth", "can-i", ...args)).stdout.trim();

  before(async () => {
    await applyManifests();
    await kubectlOk("create", "namespace", ns);
    state = await tempStateDir();
    kubeconfig = await serviceAccountKubeconfig(state, { name: "steward", namespace: SYSTEM }, ns);
    // A container of its own (no network, no ports): the shared etcd cluster is not touched.
    await docker(
      "run",
      "-d",
      "--name",
      container,
      "--label",
      `steward-e2e=${id}`,
      "--network",
      "none",
      "--entrypoint",
      "/bin/sleep",
      "steward-demo/etcd:3.4",
      "3600",
    );
    fake = new FakeMessagesServer([
      { content: [toolUse("docker_start", { container }, "toolu_rbac1")], stop_reason: "tool_use", usage },
      { content: [toolUse("resolve", { summary: `started ${container}` })], stop_reason: "tool_use", usage },
    ]);
    const baseURL = await fake.start();
    steward = new StewardProcess(
      state,
      ["--verify-timeout", "3s", "--targets", "docker,kubernetes", "--watch-namespace", ns],
      {
        STEWARD_STORE: "kubernetes",
        KUBECONFIG: kubeconfig,
        POD_NAME: `steward-rbac-${id}`,
        // What the Deployment sets: the Lease in steward-system, the one namespace the Role allows.
        STEWARD_LEASE_NAMESPACE: SYSTEM,
        ANTHROPIC_API_KEY: "test-key-not-secret",
        ANTHROPIC_BASE_URL: baseURL,
      },
    );
    await steward.start();
  });

  after(async () => {
    await steward.stop();
    await fake.close();
    await docker("rm", "-f", container);
    await kubectl("delete", "namespace", ns, "--wait=false");
  });

  it("leads through the Lease steward in steward-system", async () => {
    const holder = await waitFor(
      async () => {
        const out = (await kubectl("get", "lease", "steward", "-n", SYSTEM, "-o", "jsonpath={.spec.holderIdentity}"))
          .stdout;
        return out.startsWith(`steward-rbac-${id}_`) ? out : undefined;
      },
      30_000,
      "this Steward to hold the Lease",
    );
    assert.match(holder, new RegExp(`^steward-rbac-${id}_[0-9a-f]+$`));
  });

  it("Docker target: status, a remediation opened, an approval by annotation consumed, Events, Resolved", async () => {
    const manifest = `apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: rbac, namespace: ${ns}}
spec:
  target: {docker: {selector: {steward-e2e: "${id}"}}}
  interval: 2s
  services:
    - {name: ${container}}
  remediation:
    simpleFixes: []
    agent: {mode: approve, policyRef: default, maxAttempts: 1}
    cooldown: 0s
`;
    await kubectlOk("apply", "-f", await writeManifest(state, "rbac.yaml", manifest));
    await waitFor(
      async () => /^rbac\s+True\s/m.test((await kubectl("get", "desiredstates", "-n", ns)).stdout),
      30_000,
      "rbac Ready (status written by Steward)",
    );
    await docker("stop", "-t", "1", container);
    const name = await waitFor(
      async () => {
        const out = (
          await kubectl(
            "get",
            "rem",
            "-n",
            ns,
            "-o",
            'jsonpath={range .items[*]}{.metadata.name} {.status.phase}{"\\n"}{end}',
          )
        ).stdout;
        return /^(\S+) AwaitingApproval$/m.exec(out)?.[1];
      },
      30_000,
      "a remediation awaiting approval",
    );
    await kubectlOk(
      "annotate",
      "remediation",
      name,
      "-n",
      ns,
      "steward.dev/approve=toolu_rbac1",
      "steward.dev/approved-by=dana",
    );
    await waitFor(
      async () => (await kubectl("get", "rem", name, "-n", ns, "-o", "jsonpath={.status.phase}")).stdout === "Resolved",
      30_000,
      "Resolved after the annotation",
    );
    assert.equal(await containerState(container), "running");
    const annotations = (await kubectl("get", "rem", name, "-n", ns, "-o", "jsonpath={.metadata.annotations}")).stdout;
    assert.doesNotMatch(
      annotations,
      /steward\.dev\/approve/,
      "the approval annotation was consumed (a patch by Steward)",
    );
    const described = await waitFor(
      async () => {
        const out = (await kubectl("describe", "remediation", name, "-n", ns)).stdout;
        return /Resolved/.test(out.split("Events:")[1] ?? "") ? out : undefined;
      },
      10_000,
      "phase changes as Events in kubectl describe",
    );
    assert.match(described, /Events:[\s\S]*Opened[\s\S]*AwaitingApproval[\s\S]*Resolved/);
  });

  it("Kubernetes target: a Deployment scaled down is scaled back through the scale subresource", async () => {
    const manifests = `${busyboxDeployment({ namespace: ns, name: "web", replicas: 2, script: IDLE, readiness: "true" })}---
apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: shop, namespace: ${ns}}
spec:
  target: {kubernetes: {namespace: ${ns}}}
  services:
    - {name: Deployment/web, replicas: 2}
  remediation:
    agent: {mode: "off"}
`;
    await kubectlOk("apply", "-f", await writeManifest(state, "shop.yaml", manifests));
    await readyPods(ns, "web", 2);
    await kubectlOk("scale", "deployment", "web", "-n", ns, "--replicas=1");
    await waitFor(
      async () => (await kubectlOk("get", "deployment", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}")) === "2",
      30_000,
      "web scaled back to 2 by Steward",
    );
    const fixes = await kubectlOk(
      "get",
      "desiredstate",
      "shop",
      "-n",
      ns,
      "-o",
      'jsonpath={range .status.fixes[*]}{.subject} {.action} {.result}{"\\n"}{end}',
    );
    assert.match(fixes, /^deployment\/web scale Succeeded$/m);
    await readyPods(ns, "web", 2);
  });

  it("no reconcile failed for want of a permission", async () => {
    const metrics = await (await fetch(`http://${steward.metricsAddress}/metrics`)).text();
    assert.equal(metric(metrics, "steward_remediations_opened_total"), 1, "this Steward opened the remediation");
    assert.equal(metric(metrics, 'steward_reconcile_errors_total{controller="desiredstate"}'), 0);
    assert.equal(metric(metrics, 'steward_reconcile_errors_total{controller="remediation"}'), 0);
  });

  it("is refused writes outside its role (403 Forbidden)", async () => {
    const configMap = await asSteward("create", "configmap", `probe-${id}`, "-n", ns, "--from-literal=a=b");
    assert.notEqual(configMap.code, 0);
    assert.match(
      configMap.stderr,
      new RegExp(`configmaps is forbidden: User "${SA_USER}" cannot create resource "configmaps"`),
    );
    const refusals: [string[], RegExp][] = [
      [
        ["create", "secret", "generic", `probe-${id}`, "-n", SYSTEM, "--from-literal=a=b"],
        /cannot create resource "secrets"/,
      ],
      [["delete", "crd", "desiredstates.steward.dev"], /cannot delete resource "customresourcedefinitions"/],
      [["delete", "desiredstate", "rbac", "-n", ns], /cannot delete resource "desiredstates"/],
      [
        ["scale", "deployment", "steward", "-n", SYSTEM, "--replicas=0"],
        /cannot (patch|update) resource "deployments\/scale"|cannot get resource "deployments"/,
      ],
      [["delete", "deployment", "web", "-n", ns], /cannot delete resource "deployments"/],
    ];
    for (const [args, message] of refusals) {
      const result = await asSteward(...args);
      assert.notEqual(result.code, 0, `kubectl ${args.join(" ")} was allowed`);
      assert.match(result.stderr, /is forbidden: User/);
      assert.match(result.stderr, message);
    }
    const policy = `apiVersion: steward.dev/v1alpha1\nkind: RemediationPolicy\nmetadata: {name: wide-open, namespace: ${ns}}\nspec: {}\n`;
    const created = await asSteward("create", "-f", await writeManifest(state, "policy.yaml", policy));
    assert.match(created.stderr, /is forbidden: .* cannot create resource "remediationpolicies"/);
    assert.equal(
      (await kubectlOk("get", "desiredstate", "rbac", "-n", ns, "-o", "name")).trim(),
      "desiredstate.steward.dev/rbac",
    );
  });

  it("kubectl auth can-i: what Steward uses, and nothing around it", async () => {
    const cases: [string[], "yes" | "no"][] = [
      [["watch", "desiredstates.steward.dev", "--all-namespaces"], "yes"],
      [["update", "desiredstates.steward.dev", "--subresource=status", "-n", ns], "yes"],
      [["update", "remediations.steward.dev", "--subresource=status", "-n", ns], "yes"],
      [["patch", "desiredstates.steward.dev", "--subresource=status", "-n", ns], "yes"],
      [["update", "desiredstates.steward.dev", "-n", ns], "no"],
      [["create", "remediations.steward.dev", "-n", ns], "yes"],
      [["patch", "remediations.steward.dev", "-n", ns], "yes"],
      [["delete", "remediations.steward.dev", "-n", ns], "no"],
      [["create", "events.events.k8s.io", "-n", ns], "yes"],
      [["watch", "pods", "--all-namespaces"], "yes"],
      [["watch", "replicasets.apps", "-n", ns], "yes"],
      [["patch", "replicasets.apps", "-n", ns], "no"],
      [["delete", "pods", "-n", ns], "yes"],
      [["get", "pods", "--subresource=log", "-n", ns], "yes"],
      [["create", "pods", "--subresource=exec", "-n", ns], "no"],
      [["patch", "deployments.apps", "--subresource=scale", "-n", ns], "yes"],
      [["delete", "deployments.apps", "-n", ns], "no"],
      [["get", "secrets", "-n", SYSTEM], "no"],
      [["create", "clusterrolebindings"], "no"],
      [["escalate", "clusterroles"], "no"],
    ];
    for (const [args, expected] of cases) assert.equal(await canI(...args), expected, `can-i ${args.join(" ")}`);
  });

  it("may write the Lease steward only in steward-system", async () => {
    const cases: [string[], "yes" | "no"][] = [
      [["create", "leases.coordination.k8s.io", "-n", SYSTEM], "yes"],
      [["get", "leases.coordination.k8s.io/steward", "-n", SYSTEM], "yes"],
      [["update", "leases.coordination.k8s.io/steward", "-n", SYSTEM], "yes"],
      [["update", "leases.coordination.k8s.io/kube-scheduler", "-n", SYSTEM], "no"],
      [["delete", "leases.coordination.k8s.io/steward", "-n", SYSTEM], "no"],
      [["create", "leases.coordination.k8s.io", "-n", ns], "no"],
      [["update", "leases.coordination.k8s.io/steward", "-n", "kube-system"], "no"],
    ];
    for (const [args, expected] of cases) assert.equal(await canI(...args), expected, `can-i ${args.join(" ")}`);
    const lease = (namespace: string): string =>
      `apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: steward-probe-${id}, namespace: ${namespace}}\nspec: {holderIdentity: probe}\n`;
    const refused = await asSteward("create", "-f", await writeManifest(state, "lease.yaml", lease(ns)));
    assert.match(
      refused.stderr,
      new RegExp(`is forbidden: .* cannot create resource "leases".*in the namespace "${ns}"`),
    );
    const dryRun = await asSteward(
      "create",
      "--dry-run=server",
      "-f",
      await writeManifest(state, "lease-system.yaml", lease(SYSTEM)),
    );
    assert.equal(dryRun.code, 0, dryRun.stderr);
  });
});
