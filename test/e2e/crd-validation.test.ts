/**
 * The CRDs in a real kube-apiserver, as a Kubernetes user meets them (issue 13.1–13.3):
 * `kubectl explain` documents the fields with their defaults; `kubectl apply` of each
 * invalid DesiredState is refused by the API server's CEL rules naming the field, as
 * `steward apply` refuses it; `kubectl wait` works on both kinds, on conditions written by
 * Steward's own status code through the kubernetes store; a DesiredState an older CRD let
 * in gets Ready=False, reason InvalidSpec from a running Steward; and the Argo CD health patch
 * applies to an argocd-cm with `kubectl patch --patch-file` as the README says.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ApiextensionsV1Api, CoreV1Api, loadYaml, type V1CustomResourceDefinition } from "@kubernetes/client-node";
import { DesiredState } from "../../src/api/desired-state.js";
import { desiredStateConditions, setCondition } from "../../src/reconcile/conditions.js";
import { RemediationStatusWriter } from "../../src/reconcile/remediation-status.js";
import { newRemediation, type OpenStep } from "../../src/reconcile/remediations.js";
import { KubernetesStore } from "../../src/store/kubernetes/kubernetes-store.js";
import { ARGOCD_PATCH, HEALTH_CHECKS, healthKey } from "../../scripts/lib/argocd-health.js";
import { writeManifest } from "../support/desired-states.js";
import { cluster } from "../support/kube.js";
import { kubectl, kubectlOk } from "../support/kubectl.js";
import { cli, StewardProcess, tempStateDir } from "../support/steward.js";
import { waitFor } from "../../scripts/lib/wait.js";

const id = randomBytes(3).toString("hex");
const NS = "default";

/**
 * `kubectl explain PATH`, its words only (kubectl wraps descriptions at its terminal width).
 * Retried while the API server has not yet published a just-installed CRD's OpenAPI schema.
 */
async function explain(path: string): Promise<string> {
  const out = await waitFor(
    async () => {
      const result = await kubectl("explain", path);
      return result.code === 0 ? result.stdout : undefined;
    },
    30_000,
    `kubectl explain ${path}`,
  );
  return out.replace(/\s+/g, " ");
}

describe("kubectl explain", () => {
  before(async () => void (await cluster()));

  it("documents a field with its units and default", async () => {
    const out = await explain("desiredstate.spec.invariants.for");
    assert.match(out, /How long a violation must last before it is drift/);
    assert.match(out, /at most 24h/);
    assert.match(out, /Default: 0s/);
  });

  it("documents the conditions of a remediation, observedGeneration included", async () => {
    const out = await explain("remediation.status.conditions");
    assert.match(out, /observedGeneration/);
    assert.match(out, /older than the object's means stale/);
  });
});

describe("kubectl apply of an invalid DesiredState is refused by the API server, naming the field", () => {
  let dir: string;
  let state: string;
  before(async () => {
    await cluster();
    dir = await mkdtemp(join(tmpdir(), "steward-crd-"));
    state = await tempStateDir();
  });

  const docker = "target: {docker: {project: shop}}";
  const cases: { what: string; spec: string; field: RegExp; message: RegExp }[] = [
    {
      what: "both a docker and a kubernetes target",
      spec: `target: {docker: {project: shop}, kubernetes: {namespace: shop}}`,
      field: /spec\.target/,
      message: /expected exactly one of docker or kubernetes/,
    },
    {
      what: "a docker target with neither project nor selector",
      spec: `target: {docker: {}}`,
      field: /spec\.target\.docker/,
      message: /expected a compose project or a label selector/,
    },
    {
      what: "a kubernetes target's service that is no Deployment/ or StatefulSet/",
      spec: `target: {kubernetes: {namespace: shop}}\n  services: [{name: web}]`,
      field: /spec\.services/,
      message: /Deployment\/<name> or StatefulSet\/<name>/,
    },
    {
      what: "an invariant's for over 24h",
      spec: `${docker}\n  invariants: [{name: q, query: up, condition: "== 1", for: 25h}]`,
      field: /spec\.invariants\[0\]\.for/,
      message: /at most 24h/,
    },
    {
      what: "two services of one name",
      spec: `${docker}\n  services: [{name: a}, {name: a}]`,
      field: /spec\.services\[1\]/,
      message: /[Dd]uplicate/,
    },
    {
      what: "two invariants of one name",
      spec: `${docker}\n  invariants: [{name: q, query: up, condition: empty}, {name: q, query: up, condition: empty}]`,
      field: /spec\.invariants\[1\]/,
      message: /[Dd]uplicate/,
    },
  ];
  for (const [index, { what, spec, field, message }] of cases.entries()) {
    it(`${what}: kubectl and steward apply both refuse it`, async () => {
      const name = `invalid-${index}-${id}`;
      const file = await writeManifest(
        dir,
        `${name}.yaml`,
        `apiVersion: steward.dev/v1alpha1\nkind: DesiredState\nmetadata: {name: ${name}, namespace: ${NS}}\nspec:\n  ${spec}\n`,
      );
      const applied = await kubectl("apply", "-f", file);
      assert.notEqual(applied.code, 0, `the API server accepted it: ${applied.stdout}`);
      assert.match(applied.stderr, field);
      assert.match(applied.stderr, message);
      const got = await kubectl("get", "desiredstate", name, "-n", NS);
      assert.match(got.stderr, /NotFound/, "nothing was stored");
      const steward = await cli(state, "apply", "-f", file);
      assert.notEqual(steward.code, 0, "steward apply accepted it");
      assert.match(steward.stderr, field);
    });
  }
});

describe("kubectl wait on conditions Steward writes", () => {
  let store: KubernetesStore;
  const dsName = `wait-${id}`;
  const stopped = {
    type: "ContainerStopped" as const,
    subject: "container/etcd1",
    expected: "running",
    observed: "exited (code 137)",
    since: new Date().toISOString(),
  };

  before(async () => {
    store = new KubernetesStore(await cluster(), { namespaces: [NS] });
  });
  after(async () => {
    await kubectl("delete", "desiredstates,remediations", "-n", NS, "-l", `steward.dev/desired-state=${dsName}`);
    await kubectl("delete", "desiredstate", dsName, "-n", NS, "--wait=false");
  });

  it("--for=condition=Ready on a DesiredState returns once Steward writes Ready=True", async () => {
    const ds = DesiredState.parse({
      apiVersion: "steward.dev/v1alpha1",
      kind: "DesiredState",
      metadata: { name: dsName, namespace: NS },
      spec: { target: { docker: { project: "etcd" } }, services: [{ name: "etcd1" }] },
    });
    const { object } = await store.apply(ds);
    const notYet = await kubectl("wait", "--for=condition=Ready", `desiredstate/${dsName}`, "-n", NS, "--timeout=0s");
    assert.notEqual(notYet.code, 0, "no status yet: not Ready");
    const waiting = kubectl("wait", "--for=condition=Ready", `desiredstate/${dsName}`, "-n", NS, "--timeout=25s");
    const now = new Date();
    const conditions = desiredStateConditions({
      generation: object.metadata.generation ?? 1,
      drift: [],
      invariants: [],
      activeRemediation: undefined,
      degradations: [],
    }).reduce((list, c) => setCondition(list, c, now), [] as ReturnType<typeof setCondition>);
    await store.updateStatus("DesiredState", object.metadata, {
      observedGeneration: object.metadata.generation,
      conditions,
      drift: [],
      invariants: [],
      fixes: [],
    });
    const waited = await waiting;
    assert.equal(waited.code, 0, waited.stderr);
    assert.match(waited.stdout, /condition met/);
  });

  it("--for=condition=AwaitingApproval, then --for=condition=Resolved, on a remediation", async () => {
    const ds = await store.get("DesiredState", { namespace: NS, name: dsName });
    assert.ok(ds, "the DesiredState of the test before");
    const step: OpenStep = {
      type: "open",
      drift: stopped,
      fingerprint: `f-${id}`,
      reason: "NoSimpleFix",
      message: "",
      fixesTried: 0,
    };
    const opened = newRemediation(
      ds,
      step,
      { ...stopped, evidence: {} },
      { now: new Date(), agent: { modelConfigured: true } },
    );
    const created = await store.create(opened);
    const rem = `rem/${created.metadata.name}`;
    const writer = new RemediationStatusWriter(created, { store });
    const at = new Date().toISOString();

    const approval = kubectl("wait", "--for=condition=AwaitingApproval", rem, "-n", NS, "--timeout=25s");
    await writer.apply({ type: "sessionStarted", sessionId: "S1", message: "investigating", at });
    const pending = {
      id: "toolu_1",
      tool: "docker_start",
      command: ["docker", "start", "etcd1"],
      reason: "ask",
      requestedAt: at,
    };
    await writer.apply({ type: "awaitingApproval", pending, message: "docker start etcd1 needs approval" });
    const approvalWaited = await approval;
    assert.equal(approvalWaited.code, 0, approvalWaited.stderr);
    const notResolved = await kubectl("wait", "--for=condition=Resolved", rem, "-n", NS, "--timeout=0s");
    assert.notEqual(notResolved.code, 0, "awaiting approval is not resolved");

    const resolution = kubectl("wait", "--for=condition=Resolved", rem, "-n", NS, "--timeout=25s");
    const action = { ...pending, decision: "allow" as const, approvedBy: "alice", time: at, state: "Started" as const };
    await writer.apply({ type: "actionStarted", action, message: "running docker start etcd1" });
    await writer.apply({ type: "sessionEnded", end: { type: "resolved", summary: "started etcd1" }, at });
    const resolved = await resolution;
    assert.equal(resolved.code, 0, resolved.stderr);
    const ended = await kubectl("wait", "--for=condition=Reconciling=false", rem, "-n", NS, "--timeout=0s");
    assert.equal(ended.code, 0, ended.stderr);
    assert.equal(await kubectlOk("get", rem, "-n", NS, "-o", "jsonpath={.status.phase}"), "Resolved");
  });
});

describe("manifests/argocd/argocd-cm-patch.yaml applies as the README says", () => {
  const namespace = "argocd";
  let created = false;
  before(async () => {
    await cluster();
    created = (await kubectl("create", "namespace", namespace)).code === 0;
    await kubectlOk(
      "create",
      "configmap",
      "argocd-cm",
      "-n",
      namespace,
      "--from-literal=url=https://argocd.example.com",
    );
  });
  after(async () => {
    await kubectl("delete", "configmap", "argocd-cm", "-n", namespace);
    if (!created) return;
    // The test control plane runs no namespace controller: finalize the emptied namespace as it would.
    await kubectl("delete", "namespace", namespace, "--wait=false");
    const core = (await cluster()).makeApiClient(CoreV1Api);
    await core
      .replaceNamespaceFinalize({ name: namespace, body: { metadata: { name: namespace }, spec: { finalizers: [] } } })
      .catch(() => undefined);
  });

  it("kubectl -n argocd patch configmap argocd-cm --patch-file adds both checks and keeps the rest", async () => {
    await kubectlOk("-n", namespace, "patch", "configmap", "argocd-cm", "--patch-file", ARGOCD_PATCH);
    const data = JSON.parse(
      await kubectlOk("get", "configmap", "argocd-cm", "-n", namespace, "-o", "jsonpath={.data}"),
    ) as Record<string, string>;
    assert.equal(data.url, "https://argocd.example.com");
    for (const check of HEALTH_CHECKS) assert.equal(data[healthKey(check.kind)], await readFile(check.script, "utf8"));
  });
});

describe("a DesiredState an older CRD let in: Ready=False, Stalled=True, reason InvalidSpec", () => {
  const CRD = new URL("../../crds/desiredstates.steward.dev.yaml", import.meta.url).pathname;
  const name = `older-crd-${id}`;
  let api: ApiextensionsV1Api;
  let steward: StewardProcess | undefined;

  /** Replaces the DesiredState CRD by `crd` and waits until the API server serves it. */
  async function replaceCrd(crd: V1CustomResourceDefinition): Promise<void> {
    const existing = await api.readCustomResourceDefinition({ name: "desiredstates.steward.dev" });
    await api.replaceCustomResourceDefinition({
      name: "desiredstates.steward.dev",
      body: { ...crd, metadata: { ...crd.metadata, resourceVersion: existing.metadata?.resourceVersion } },
    });
  }
  const currentCrd = async (): Promise<V1CustomResourceDefinition> =>
    loadYaml<V1CustomResourceDefinition>(await readFile(CRD, "utf8"));

  before(async () => {
    api = (await cluster()).makeApiClient(ApiextensionsV1Api);
    // The CRD as it was before the rule for a Kubernetes target's service names.
    const older = await currentCrd();
    const spec = older.spec.versions[0]?.schema?.openAPIV3Schema?.properties?.spec;
    assert.ok(spec?.x_kubernetes_validations, "the current CRD has the rule this test removes");
    delete spec.x_kubernetes_validations;
    await replaceCrd(older);
  });
  after(async () => {
    await steward?.stop();
    await kubectl("delete", "desiredstate", name, "-n", NS, "--wait=false");
    await replaceCrd(await currentCrd());
  });

  it("a running Steward says so in the status, naming the field, instead of dropping it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "steward-crd-"));
    const file = await writeManifest(
      dir,
      "older.yaml",
      `apiVersion: steward.dev/v1alpha1\nkind: DesiredState\nmetadata: {name: ${name}, namespace: ${NS}}\nspec:\n  target: {kubernetes: {namespace: ${NS}}}\n  services: [{name: web}]\n`,
    );
    // Accepted once the API server serves the older schema.
    await waitFor(async () => (await kubectl("apply", "-f", file)).code === 0, 20_000, "the older CRD to accept it");
    steward = new StewardProcess(await tempStateDir(), ["--watch-namespace", NS, "--leader-elect=false"], {
      STEWARD_STORE: "kubernetes",
    });
    await steward.start();
    const reason = 'jsonpath={.status.conditions[?(@.type=="Ready")].reason}';
    await waitFor(
      async () => (await kubectl("get", "desiredstate", name, "-n", NS, "-o", reason)).stdout === "InvalidSpec",
      30_000,
      "Ready reason InvalidSpec",
    );
    const conditions = JSON.parse(
      await kubectlOk("get", "desiredstate", name, "-n", NS, "-o", "jsonpath={.status.conditions}"),
    ) as { type: string; status: string; reason: string; message: string }[];
    const ready = conditions.find((c) => c.type === "Ready");
    assert.equal(ready?.status, "False");
    assert.match(ready?.message ?? "", /spec\.services\[0\]\.name/);
    assert.deepEqual(
      conditions.find((c) => c.type === "Stalled"),
      { ...conditions.find((c) => c.type === "Stalled"), status: "True", reason: "InvalidSpec" },
    );
    const waited = await kubectl("wait", "--for=condition=Stalled", `desiredstate/${name}`, "-n", NS, "--timeout=0s");
    assert.equal(waited.code, 0, waited.stderr);
  });
});
