/**
 * The Helm chart (charts/steward, issue 13.4): helm lint and helm template with the default
 * and the full values, manifests/ as the chart's own render (no drift), and helm install on
 * the test kube-apiserver followed by the manifests test's smoke check: Steward, run out of
 * cluster with the chart's ServiceAccount token and the Deployment's arguments, leads
 * through the chart's Lease, is Ready, and reconciles within the namespaces its RBAC was
 * narrowed to (the test control plane has no kubelet to run the pod itself).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { CoreV1Api } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { helm, helmOk } from "../../scripts/lib/helm.js";
import { CHART, MANIFESTS_DIR, manifestFiles } from "../../scripts/lib/manifests.js";
import { waitFor } from "../../scripts/lib/wait.js";
import { writeManifest } from "../support/desired-states.js";
import { cluster } from "../support/kube.js";
import { kubectl, kubectlOk } from "../support/kubectl.js";
import { serviceAccountKubeconfig } from "../support/service-account.js";
import { StewardProcess, tempStateDir } from "../support/steward.js";

const FULL_VALUES = `${CHART}/ci/full-values.yaml`;

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } & Record<
  string,
  unknown
>;

interface Container {
  image: string;
  args: string[];
  env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  securityContext: Record<string, unknown>;
}
interface Deployment extends K8sObject {
  spec: { replicas: number; template: { spec: { securityContext: Record<string, unknown>; containers: Container[] } } };
}

async function render(...values: string[]): Promise<K8sObject[]> {
  const text = await helmOk("template", "steward", CHART, "--namespace", "steward-system", ...values);
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

const ids = (objects: readonly K8sObject[]): string[] =>
  objects.map((o) => `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`).sort();

function only<T extends K8sObject>(objects: readonly K8sObject[], kind: string): T {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0] as T;
}

describe("helm lint", () => {
  for (const [what, values] of [
    ["default values", []],
    ["the full values (ci/full-values.yaml)", ["--values", FULL_VALUES]],
  ] as const) {
    it(`passes with ${what}, --strict`, async () => {
      const result = await helm("lint", CHART, "--strict", ...values);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    });
  }
});

describe("helm template", () => {
  it("default values: what manifests/ applies, minus the namespace; the Deployment as today", async () => {
    const objects = await render();
    assert.deepEqual(ids(objects), [
      "ClusterRole/steward",
      "ClusterRole/steward-targets",
      "ClusterRoleBinding/steward",
      "ClusterRoleBinding/steward-targets",
      "Deployment/steward-system/steward",
      "PodDisruptionBudget/steward-system/steward",
      "Role/steward-system/steward-leader-election",
      "RoleBinding/steward-system/steward-leader-election",
      "Service/steward-system/steward-metrics",
      "ServiceAccount/steward-system/steward",
    ]);
    const deployment = only<Deployment>(objects, "Deployment");
    assert.equal(deployment.spec.replicas, 2);
    const [container] = deployment.spec.template.spec.containers;
    assert.ok(container);
    assert.equal(container.image, "steward:dev");
    assert.deepEqual(container.args, [
      "run",
      "--store",
      "kubernetes",
      "--targets",
      "kubernetes",
      "--metrics-addr",
      "0.0.0.0:9477",
      "--lease-name",
      "steward",
    ]);
    assert.deepEqual(deployment.spec.template.spec.securityContext, {
      fsGroup: 10001,
      runAsGroup: 10001,
      runAsNonRoot: true,
      runAsUser: 10001,
      seccompProfile: { type: "RuntimeDefault" },
    });
    assert.deepEqual(container.env.find((e) => e.name === "ANTHROPIC_API_KEY")?.valueFrom?.secretKeyRef, {
      name: "steward-anthropic",
      key: "api-key",
      optional: true,
    });
  });

  it("full values: every feature on, and RBAC narrowed to the watched namespaces", async () => {
    const objects = await render("--values", FULL_VALUES);
    assert.deepEqual(ids(objects), [
      "ClusterRole/steward",
      "ClusterRole/steward-targets",
      "ConfigMap/monitoring/steward-dashboard",
      "Deployment/steward-system/steward",
      "Namespace/steward-system",
      "NetworkPolicy/steward-system/steward",
      "PodDisruptionBudget/steward-system/steward",
      "PrometheusRule/steward-system/steward",
      "Role/steward-system/steward-leader-election",
      "RoleBinding/payments/steward",
      "RoleBinding/payments/steward-targets",
      "RoleBinding/shop/steward",
      "RoleBinding/shop/steward-targets",
      "RoleBinding/steward-system/steward-leader-election",
      "Service/steward-system/steward-metrics",
      "ServiceAccount/steward-system/steward-controller",
      "ServiceMonitor/steward-system/steward",
    ]);
    const [container] = only<Deployment>(objects, "Deployment").spec.template.spec.containers;
    assert.ok(container);
    assert.equal(container.image, "registry.example.com/steward:v0.1.0");
    const args = container.args.join(" ");
    for (const expected of [
      "--lease-name steward-leader",
      "--watch-namespace shop,payments",
      "--prometheus-url http://prometheus-operated.monitoring.svc:9090",
      "--prometheus-allow-remote true",
      "--model claude-sonnet-5-5",
      "--max-sessions 4",
    ])
      assert.ok(args.includes(expected), `${expected} in ${args}`);
    const policy = only<K8sObject & { spec: { egress: { ports: { port: number }[] }[] } }>(objects, "NetworkPolicy");
    assert.deepEqual(
      policy.spec.egress.map((rule) => rule.ports.map((p) => p.port)),
      [[53, 53], [443, 6443], [9090], [443]],
      "egress: DNS, the API server, Prometheus, the model endpoint; nothing else",
    );
    const dashboard = only<K8sObject & { data: Record<string, string>; metadata: { labels: Record<string, string> } }>(
      objects,
      "ConfigMap",
    );
    assert.equal(dashboard.metadata.labels.grafana_dashboard, "1");
    assert.equal((JSON.parse(dashboard.data["steward.json"] ?? "{}") as { uid: string }).uid, "steward");
    const rule = only<K8sObject & { spec: { groups: { rules: { alert: string; expr: string }[] }[] } }>(
      objects,
      "PrometheusRule",
    );
    const approval = rule.spec.groups[0]?.rules.find((r) => r.alert === "StewardApprovalWaiting");
    assert.match(approval?.expr ?? "", /> 2700$/, "approvalWaitMinutes: 45");
  });

  it("a NetworkPolicy without the API server's addresses is refused with what to set", async () => {
    const result = await helm("template", "steward", CHART, "--set", "networkPolicy.enabled=true");
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /networkPolicy\.apiServer\.cidrs: the API server's addresses are required/);
  });
});

describe("manifests/ is the chart rendered with manifests/values.yaml", () => {
  it("every committed file equals a fresh render (run npm run gen:manifests)", async () => {
    for (const file of await manifestFiles()) {
      const committed = await readFile(`${MANIFESTS_DIR}/${file.name}`, "utf8").catch(() => "<missing>");
      assert.equal(committed, file.text, `manifests/${file.name} differs from the chart: run npm run gen:manifests`);
    }
  });
});

describe("helm install on the test kube-apiserver", () => {
  const id = randomBytes(4).toString("hex");
  const release = `steward-helm-${id}`;
  /** The release's namespace (the Lease, the ServiceAccount) and the one namespace it watches. */
  const system = `steward-helm-${id}`;
  const watched = `steward-helm-ws-${id}`;
  let state: string;
  let kubeconfig: string;
  let steward: StewardProcess;
  const asSteward = (...args: string[]): ReturnType<typeof kubectl> => kubectl("--kubeconfig", kubeconfig, ...args);
  const canI = async (...args: string[]): Promise<string> => (await asSteward("auth", "can-i", ...args)).stdout.trim();

  before(async () => {
    await cluster();
    state = await tempStateDir();
    await kubectlOk("create", "namespace", watched);
  });

  after(async () => {
    await steward?.stop();
    await helm("uninstall", release, "--namespace", system, "--wait=false");
    await kubectl("delete", "desiredstates,deployments", "--all", "-n", watched, "--wait=false");
    // The test control plane runs no namespace controller: finalize the emptied namespaces as it would.
    const core = (await cluster()).makeApiClient(CoreV1Api);
    for (const ns of [watched, system]) {
      await kubectl("delete", "namespace", ns, "--wait=false");
      await core
        .replaceNamespaceFinalize({ name: ns, body: { metadata: { name: ns }, spec: { finalizers: [] } } })
        .catch(() => undefined);
    }
  });

  it("installs: the release is deployed with its ServiceAccount, RBAC in the watched namespace only, Deployment and PDB", async () => {
    const installed = await helm(
      "install",
      release,
      CHART,
      "--namespace",
      system,
      "--create-namespace",
      "--set",
      `watchNamespaces={${watched}}`,
      // The test files before this one installed the same CRDs with another field manager;
      // Helm 4 applies server-side and would refuse to take those fields over.
      "--force-conflicts",
      "--wait=false",
    );
    assert.equal(installed.code, 0, installed.stderr);
    assert.match(installed.stdout, /STATUS: deployed/);
    assert.match(installed.stdout, new RegExp(`Steward 0\\.1\\.0 is installed in ${system} as ${release}`));
    const objects = await kubectlOk(
      "get",
      "serviceaccount,deployment,poddisruptionbudget,service,role,rolebinding",
      "-n",
      system,
      "-o",
      "name",
    );
    for (const expected of [
      `serviceaccount/${release}`,
      `deployment.apps/${release}`,
      `poddisruptionbudget.policy/${release}`,
      `service/${release}-metrics`,
      `role.rbac.authorization.k8s.io/${release}-leader-election`,
    ])
      assert.match(objects, new RegExp(`^${expected.replace(/\./g, "\\.")}$`, "m"));
    const bindings = await kubectlOk("get", "rolebinding", "-n", watched, "-o", "name");
    assert.deepEqual(bindings.trim().split("\n").sort(), [
      `rolebinding.rbac.authorization.k8s.io/${release}`,
      `rolebinding.rbac.authorization.k8s.io/${release}-targets`,
    ]);
  });

  it("its ServiceAccount may act in the watched namespace and nowhere else", async () => {
    kubeconfig = await serviceAccountKubeconfig(state, { name: release, namespace: system }, watched);
    const cases: [string[], "yes" | "no"][] = [
      [["watch", "desiredstates.steward.dev", "-n", watched], "yes"],
      [["update", "desiredstates.steward.dev", "--subresource=status", "-n", watched], "yes"],
      [["patch", "deployments.apps", "--subresource=scale", "-n", watched], "yes"],
      [["watch", "desiredstates.steward.dev", "-n", "default"], "no"],
      [["watch", "desiredstates.steward.dev", "--all-namespaces"], "no"],
      [["patch", "deployments.apps", "--subresource=scale", "-n", "default"], "no"],
      [["update", `leases.coordination.k8s.io/${release}`, "-n", system], "yes"],
      [["update", "leases.coordination.k8s.io/steward", "-n", system], "no"],
      [["get", "secrets", "-n", system], "no"],
    ];
    for (const [args, expected] of cases) assert.equal(await canI(...args), expected, `can-i ${args.join(" ")}`);
  });

  it("smoke check: Steward with the chart's token and the Deployment's arguments leads, is Ready, and reconciles", async () => {
    const manifest = parseAllDocuments(await helmOk("get", "manifest", release, "--namespace", system))
      .map((d) => d.toJS() as K8sObject | null)
      .filter((o): o is K8sObject => o !== null);
    const [container] = only<Deployment>(manifest, "Deployment").spec.template.spec.containers;
    assert.ok(container);
    // The Deployment's own arguments, but /metrics on loopback: this process is not in a pod.
    const args = container.args.filter(
      (a, i, all) => a !== "run" && a !== "--metrics-addr" && all[i - 1] !== "--metrics-addr",
    );
    assert.deepEqual(args, [
      "--store",
      "kubernetes",
      "--targets",
      "kubernetes",
      "--lease-name",
      release,
      "--watch-namespace",
      watched,
    ]);
    steward = new StewardProcess(state, args, {
      KUBECONFIG: kubeconfig,
      POD_NAME: `${release}-0`,
      // What the Deployment sets from the pod's namespace.
      STEWARD_LEASE_NAMESPACE: system,
    });
    await steward.start();
    const holder = await waitFor(
      async () => {
        const out = (await kubectl("get", "lease", release, "-n", system, "-o", "jsonpath={.spec.holderIdentity}"))
          .stdout;
        return out.startsWith(`${release}-0_`) ? out : undefined;
      },
      30_000,
      "Steward to hold the chart's Lease",
    );
    assert.match(holder, new RegExp(`^${release}-0_[0-9a-f]+$`));
    assert.equal((await fetch(`http://${steward.metricsAddress}/readyz`)).status, 200);

    const workloads = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${watched}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: main, image: steward-demo/web:1}]
---
apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: shop, namespace: ${watched}}
spec:
  target: {kubernetes: {namespace: ${watched}}}
  services:
    - {name: Deployment/web, replicas: 1}
  remediation:
    agent: {mode: "off"}
`;
    await kubectlOk("apply", "-f", await writeManifest(state, "shop.yaml", workloads));
    await waitFor(
      async () =>
        (
          await kubectl(
            "get",
            "desiredstate",
            "shop",
            "-n",
            watched,
            "-o",
            'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
          )
        ).stdout === "True",
      30_000,
      "shop Ready (its status written by Steward under the chart's RBAC)",
    );
    const metrics = await (await fetch(`http://${steward.metricsAddress}/metrics`)).text();
    assert.match(metrics, /^steward_leader 1$/m);
    assert.match(metrics, /^steward_reconcile_errors_total\{controller="desiredstate"\} 0$/m);
  });
});
