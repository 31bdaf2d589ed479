import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { KINDS } from "../../src/api/resources.js";
import { KubernetesStore } from "../../src/store/kubernetes/kubernetes-store.js";
import { containerState, docker } from "../../scripts/lib/cluster.js";
import { waitFor } from "../../scripts/lib/wait.js";
import { writeManifest } from "../support/desired-states.js";
import { FakeMessagesServer, toolUse } from "../support/fake-anthropic.js";
import { cluster } from "../support/kube.js";
import { StewardProcess, tempStateDir } from "../support/steward.js";

const run = promisify(execFile);
const ROOT = new URL("../../", import.meta.url).pathname;
const MANIFESTS = `${ROOT}manifests/`;
const SYSTEM = "steward-system";
/** Where this file's DesiredState lives; not `default`, which the other kubernetes tests empty. */
const NAMESPACE = "steward-rbac-e2e";

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** kubectl from the control-plane build; `kubeconfig` defaults to the admin's KUBECONFIG. */
async function kubectl(args: string[], kubeconfig?: string): Promise<Result> {
  const bindir = (await run("bash", [`${ROOT}scripts/control-plane.sh`, "bindir"])).stdout.trim();
  const env = kubeconfig ? { ...process.env, KUBECONFIG: kubeconfig } : process.env;
  try {
    const { stdout, stderr } = await run(`${bindir}/kubectl`, args, { timeout: 30_000, env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

async function applyManifests(): Promise<Result> {
  await cluster();
  const applied = await kubectl(["apply", "-k", MANIFESTS]);
  assert.equal(applied.code, 0, applied.stderr);
  return applied;
}

/** A kubeconfig for the manifests' ServiceAccount: the admin's cluster, a TokenRequest token. */
async function serviceAccountKubeconfig(dir: string): Promise<string> {
  const token = await kubectl(["create", "token", "steward", "-n", SYSTEM, "--duration", "1h"]);
  assert.equal(token.code, 0, token.stderr);
  const admin = await cluster();
  const server = admin.getCurrentCluster();
  assert.ok(server?.caData, "the admin kubeconfig carries the cluster CA inline");
  const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: "${server.server}", certificate-authority-data: ${server.caData}}
users:
- name: steward
  user: {token: ${token.stdout.trim()}}
contexts:
- name: steward
  context: {cluster: test, user: steward, namespace: ${NAMESPACE}}
current-context: steward
`;
  return writeManifest(dir, "steward-sa.kubeconfig", kubeconfig);
}

/** No Steward object left in `namespace` by an earlier run. */
async function emptyNamespace(namespace: string): Promise<void> {
  const store = new KubernetesStore(await cluster(), { namespace });
  for (const kind of Object.values(KINDS)) {
    for (const object of await store.list(kind.kind)) await store.delete(kind.kind, object.metadata);
  }
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
    const applied = await applyManifests();
    assert.doesNotMatch(applied.stderr, /PodSecurity|would violate/);
    const objects = (await kubectl(["get", "namespace/steward-system", "serviceaccount/steward", "deployment/steward", "service/steward-metrics", "role/steward-leader-election", "-n", SYSTEM, "-o", "name"])).stdout;
    assert.deepEqual(objects.trim().split("\n"), [
      "namespace/steward-system",
      "serviceaccount/steward",
      "deployment.apps/steward",
      "service/steward-metrics",
      "role.rbac.authorization.k8s.io/steward-leader-election",
    ]);
    const crds = (await kubectl(["get", "crd", "-o", "name"])).stdout;
    for (const plural of ["desiredstates", "remediations", "remediationpolicies"]) assert.match(crds, new RegExp(`${plural}\\.steward\\.dev`));
    const again = await kubectl(["apply", "-k", MANIFESTS]);
    assert.match(again.stdout, /deployment\.apps\/steward unchanged/);
  });

  it("the Deployment's pod is admitted in steward-system, whose namespace enforces the restricted Pod Security level", async () => {
    await applyManifests();
    const deployment = JSON.parse((await kubectl(["get", "deployment", "steward", "-n", SYSTEM, "-o", "json"])).stdout) as { spec: { replicas: number; template: { spec: unknown } } };
    assert.equal(deployment.spec.replicas, 2);
    const pod = (spec: unknown): string => JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "steward-admission-check", namespace: SYSTEM }, spec });
    const admitted = await kubectl(["create", "--dry-run=server", "-f", await writeManifest(state, "pod.json", pod(deployment.spec.template.spec))]);
    assert.equal(admitted.code, 0, admitted.stderr);
    const root = await kubectl(["create", "--dry-run=server", "-f", await writeManifest(state, "root.json", pod({ containers: [{ name: "c", image: "steward:dev" }] }))]);
    assert.notEqual(root.code, 0);
    assert.match(root.stderr, /violates PodSecurity "restricted/);
  });
});

describe("RBAC: steward run with the manifests' ServiceAccount token", () => {
  const id = randomBytes(4).toString("hex");
  const container = `steward-rbac-${id}`;
  let state: string;
  let kubeconfig: string;
  let steward: StewardProcess;
  let fake: FakeMessagesServer;
  const usage = { input_tokens: 100, output_tokens: 10, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
  const asSteward = (...args: string[]): Promise<Result> => kubectl(args, kubeconfig);

  before(async () => {
    await applyManifests();
    await kubectl(["create", "namespace", NAMESPACE]);
    // Other kubernetes tests leave objects in `default`; a Steward sees every namespace, and
    // an open remediation there would take this file's scripted model replies.
    await emptyNamespace("default");
    await emptyNamespace(NAMESPACE);
    state = await tempStateDir();
    kubeconfig = await serviceAccountKubeconfig(state);
    // A container of its own (no network, no ports): the shared etcd cluster is not touched.
    await docker("run", "-d", "--name", container, "--label", `steward-e2e=${id}`, "--network", "none", "--entrypoint", "/bin/sleep", "steward-demo/etcd:3.4", "3600");
    fake = new FakeMessagesServer([
      { content: [toolUse("docker_start", { container }, "toolu_rbac1")], stop_reason: "tool_use", usage },
      { content: [toolUse("resolve", { summary: `started ${container}` })], stop_reason: "tool_use", usage },
    ]);
    const baseURL = await fake.start();
    steward = new StewardProcess(state, ["--verify-timeout", "3s"], {
      STEWARD_STORE: "kubernetes",
      KUBECONFIG: kubeconfig,
      POD_NAME: `steward-rbac-${id}`,
      POD_NAMESPACE: SYSTEM,
      ANTHROPIC_API_KEY: "test-key-not-secret",
      ANTHROPIC_BASE_URL: baseURL,
    });
    await steward.start();
  });

  after(async () => {
    await steward.stop();
    await fake.close();
    await docker("rm", "-f", container);
  });

  it("does its work: status, a remediation opened, an approval by annotation consumed, Events, Resolved", async () => {
    const manifest = `apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: rbac, namespace: ${NAMESPACE}}
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
    assert.equal((await kubectl(["apply", "-f", await writeManifest(state, "rbac.yaml", manifest)])).code, 0);
    await waitFor(async () => /^rbac\s+True\s/m.test((await kubectl(["get", "desiredstates", "-n", NAMESPACE])).stdout), 30_000, "rbac Ready (status written by Steward)");
    await docker("stop", "-t", "1", container);
    const name = await waitFor(async () => {
      const out = (await kubectl(["get", "rem", "-n", NAMESPACE, "-o", "jsonpath={range .items[*]}{.metadata.name} {.status.phase}{\"\\n\"}{end}"])).stdout;
      return /^(\S+) AwaitingApproval$/m.exec(out)?.[1];
    }, 30_000, "a remediation awaiting approval");
    const annotated = await kubectl(["annotate", "remediation", name, "-n", NAMESPACE, "steward.dev/approve=toolu_rbac1", "steward.dev/approved-by=dana"]);
    assert.equal(annotated.code, 0, annotated.stderr);
    await waitFor(async () => (await kubectl(["get", "rem", name, "-n", NAMESPACE, "-o", "jsonpath={.status.phase}"])).stdout === "Resolved", 30_000, "Resolved after the annotation");
    assert.equal(await containerState(container), "running");
    const annotations = (await kubectl(["get", "rem", name, "-n", NAMESPACE, "-o", "jsonpath={.metadata.annotations}"])).stdout;
    assert.doesNotMatch(annotations, /steward\.dev\/approve/, "the approval annotation was consumed (a patch by Steward)");
    const described = await waitFor(async () => {
      const out = (await kubectl(["describe", "remediation", name, "-n", NAMESPACE])).stdout;
      return /Resolved/.test(out.split("Events:")[1] ?? "") ? out : undefined;
    }, 10_000, "phase changes as Events in kubectl describe");
    assert.match(described, /Events:[\s\S]*Opened[\s\S]*AwaitingApproval[\s\S]*Resolved/);
    const metrics = await (await fetch(`http://${steward.metricsAddress}/metrics`)).text();
    assert.equal(metric(metrics, "steward_remediations_opened_total"), 1, "this Steward opened the remediation");
    assert.equal(metric(metrics, "steward_reconcile_errors_total"), 0, "no reconcile failed (a 403 on a write would)");
  });

  it("is refused writes outside its role (403 Forbidden)", async () => {
    const configMap = await asSteward("create", "configmap", `probe-${id}`, "-n", NAMESPACE, "--from-literal=a=b");
    assert.notEqual(configMap.code, 0);
    assert.match(configMap.stderr, /configmaps is forbidden: User "system:serviceaccount:steward-system:steward" cannot create resource "configmaps"/);
    const secret = await asSteward("create", "secret", "generic", `probe-${id}`, "-n", SYSTEM, "--from-literal=a=b");
    assert.match(secret.stderr, /is forbidden: .* cannot create resource "secrets"/);
    const crd = await asSteward("delete", "crd", "desiredstates.steward.dev");
    assert.match(crd.stderr, /is forbidden: .* cannot delete resource "customresourcedefinitions"/);
    const desiredState = await asSteward("delete", "desiredstate", "rbac", "-n", NAMESPACE);
    assert.match(desiredState.stderr, /is forbidden: .* cannot delete resource "desiredstates"/);
    const policy = `apiVersion: steward.dev/v1alpha1\nkind: RemediationPolicy\nmetadata: {name: wide-open, namespace: ${NAMESPACE}}\nspec: {}\n`;
    const created = await asSteward("create", "-f", await writeManifest(state, "policy.yaml", policy));
    assert.match(created.stderr, /is forbidden: .* cannot create resource "remediationpolicies"/);
    assert.equal((await kubectl(["get", "desiredstate", "rbac", "-n", NAMESPACE, "-o", "name"])).stdout.trim(), "desiredstate.steward.dev/rbac");
  });

  it("kubectl auth can-i: what Steward uses, and nothing around it", async () => {
    const cases: [string[], "yes" | "no"][] = [
      [["watch", "desiredstates.steward.dev", "--all-namespaces"], "yes"],
      [["update", "desiredstates.steward.dev", "--subresource=status", "-n", NAMESPACE], "yes"],
      [["update", "remediations.steward.dev", "--subresource=status", "-n", NAMESPACE], "yes"],
      [["update", "desiredstates.steward.dev", "-n", NAMESPACE], "no"],
      [["create", "remediations.steward.dev", "-n", NAMESPACE], "yes"],
      [["patch", "remediations.steward.dev", "-n", NAMESPACE], "yes"],
      [["delete", "remediations.steward.dev", "-n", NAMESPACE], "no"],
      [["create", "events.events.k8s.io", "-n", NAMESPACE], "yes"],
      [["get", "secrets", "-n", SYSTEM], "no"],
      [["create", "pods/exec", "-n", NAMESPACE], "no"],
      [["create", "clusterrolebindings"], "no"],
      [["escalate", "clusterroles"], "no"],
    ];
    for (const [args, expected] of cases) {
      const answer = await asSteward("auth", "can-i", ...args);
      assert.equal(answer.stdout.trim(), expected, `can-i ${args.join(" ")}`);
    }
  });

  it("may write the Lease steward only in steward-system", async () => {
    const cases: [string[], "yes" | "no"][] = [
      [["create", "leases.coordination.k8s.io", "-n", SYSTEM], "yes"],
      [["get", "leases.coordination.k8s.io/steward", "-n", SYSTEM], "yes"],
      [["update", "leases.coordination.k8s.io/steward", "-n", SYSTEM], "yes"],
      [["update", "leases.coordination.k8s.io/kube-scheduler", "-n", SYSTEM], "no"],
      [["delete", "leases.coordination.k8s.io/steward", "-n", SYSTEM], "no"],
      [["create", "leases.coordination.k8s.io", "-n", NAMESPACE], "no"],
      [["update", "leases.coordination.k8s.io/steward", "-n", "kube-system"], "no"],
    ];
    for (const [args, expected] of cases) {
      assert.equal((await asSteward("auth", "can-i", ...args)).stdout.trim(), expected, `can-i ${args.join(" ")}`);
    }
    const lease = (namespace: string): string =>
      `apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: steward-probe-${id}, namespace: ${namespace}}\nspec: {holderIdentity: probe}\n`;
    const refused = await asSteward("create", "-f", await writeManifest(state, "lease.yaml", lease(NAMESPACE)));
    assert.match(refused.stderr, /is forbidden: .* cannot create resource "leases".*in the namespace "steward-rbac-e2e"/);
    const dryRun = await asSteward("create", "--dry-run=server", "-f", await writeManifest(state, "lease-system.yaml", lease(SYSTEM)));
    assert.equal(dryRun.code, 0, dryRun.stderr);
  });
});
