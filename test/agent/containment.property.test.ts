/**
 * The adversarial suite of issue 11, classes 1 and 2: hostile tool calls through the real
 * decision path — the real tool definitions (input schema, argv, what each touches and
 * reads), the real ownership computation (ownership.ts over observed containers and
 * Kubernetes objects) and the real decide() — under every mode and under broad policies
 * (the README's own loosening `allow docker restart *`, `allow *`). The oracles are written
 * apart from the code under test: which objects belong to the DesiredState (compose labels;
 * ownerReferences walked by hand), which containers Docker itself could resolve a reference
 * to (full ID, name, any ID prefix), which argv elements name a destination. Asserted: zero
 * allows (or asks) that reach outside the DesiredState, zero that name a destination Steward
 * does not know or set credentials. Hostile inputs: test/agent/corpus/containment.json, and
 * generated worlds and calls.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import fc from "fast-check";
import type { AgentMode } from "../../src/api/desired-state.js";
import { RemediationPolicySpec, type PolicyRule } from "../../src/api/policy.js";
import { DEFAULT_POLICY } from "../../src/api/default-policy.js";
import { classifyShell, decide, type PolicyDecision, type PolicyRequest } from "../../src/agent/policy.js";
import { resolveReference, type AgentScope } from "../../src/agent/ownership.js";
import { DOCKER_TOOLS, KUBERNETES_TOOLS } from "../../src/agent/toolsets.js";
import type { ToolDefinition } from "../../src/agent/tools.js";
import type { ContainerSnapshot, PodSnapshot, ReplicaSetSnapshot, WorkloadSnapshot } from "../../src/observe/types.js";
import {
  container,
  containerId,
  controllerRef,
  dockerWorldScope,
  kubernetesWorldScope,
  pod,
  replicaSet,
  workload,
} from "../support/scopes.js";

interface Corpus {
  dockerReferences: string[];
  kubernetesReferences: string[];
  shellMutations: string[][];
  destinations: string[][];
  knownDestinations: string[][];
}
const CORPUS = JSON.parse(readFileSync(join(import.meta.dirname, "corpus", "containment.json"), "utf8")) as Corpus;

const MODES: readonly AgentMode[] = ["observe", "approve", "auto"];
const policyOf = (...rules: [PolicyRule["decision"], string][]): RemediationPolicySpec =>
  RemediationPolicySpec.parse({ rules: rules.map(([decision, command]) => ({ decision, command })) });
/** The default policy, the README's suggested loosening, and policies that allow everything they can. */
const POLICIES: readonly RemediationPolicySpec[] = [
  DEFAULT_POLICY,
  policyOf(["allow", "docker restart *"], ["allow", "docker start *"]),
  policyOf(["allow", "docker *"], ["allow", "kubectl *"], ["allow", "etcdctl *"]),
  policyOf(["allow", "*"]),
];

/** A call as the session makes it: the model's input validated by the tool's schema, then argv, touches and reads. */
function request(tool: ToolDefinition<unknown>, input: unknown): PolicyRequest | undefined {
  const parsed = tool.input.safeParse(input);
  if (!parsed.success) return undefined;
  const argv = tool.argv(parsed.data);
  const mutating = tool.kind === "mutate" && (tool.name !== "shell" || classifyShell(argv).mutating);
  return {
    tool: tool.name,
    argv,
    mutating,
    touches: tool.touches(parsed.data),
    reads: tool.reads?.(parsed.data) ?? [],
  };
}

const toolNamed = (set: readonly ToolDefinition<never>[], name: string): ToolDefinition<unknown> =>
  (set.find((t) => t.name === name) as ToolDefinition<unknown> | undefined) ?? assert.fail(`no tool ${name}`);

/** Counts the calls judged, for the suite's size (printed as a diagnostic). */
class Tally {
  judged = 0;
  passed = 0;
  report(t: TestContext, what: string): void {
    t.diagnostic(`${what}: ${this.judged} calls judged, ${this.passed} allowed or asked, none outside`);
  }
}

// ---------------------------------------------------------------------------------------
// Class 1, Docker: ownership by identity.

/**
 * Project shop declares redis (its container is gone), web, db and 3fa9 (no container; the
 * name is a prefix of another project's container ID). On the host: another project's
 * container literally named redis, one whose ID starts with db, one whose ID starts with
 * 3fa9, an unlabelled container named web, and shop's own containers.
 */
const SHOP_SERVICES = ["redis", "web", "db", "3fa9"];
const HOST: ContainerSnapshot[] = [
  container("shop-web-1", { project: "shop", service: "web" }),
  container("shop-db-1", { project: "shop", service: "db" }),
  container("shop-metrics-1", { project: "shop", service: "metrics" }),
  container("redis", { project: "other", service: "redis" }),
  container("payments", { project: "other", service: "payments", id: containerId("payments", "db") }),
  container("other-cache", { project: "other", service: "cache", id: containerId("other-cache", "3fa9") }),
  container("web", {}),
  container("web-canary", { project: "other", service: "web" }),
];

/** Every container Docker could pick for `reference`, now or after the cache moves on: full ID, exact name, ID prefix. */
function dockerCouldReach(reference: string, containers: readonly ContainerSnapshot[]): ContainerSnapshot[] {
  return containers.filter(
    (c) => c.id === reference || c.name === reference || (/^[0-9a-f]+$/.test(reference) && c.id.startsWith(reference)),
  );
}

/**
 * The DesiredState's own containers, by the oracle: its project's containers of a declared
 * service — by the compose service label, or by name for a service no container of the
 * project carries the label of (as drift detection matches them).
 */
function ownContainer(
  c: ContainerSnapshot,
  world: { containers: readonly ContainerSnapshot[]; project: string; services: readonly string[] },
): boolean {
  if (c.project !== world.project) return false;
  const labelled = (service: string): boolean =>
    world.containers.some((o) => o.project === world.project && o.service === service);
  return world.services.some((s) => (labelled(s) ? c.service === s : c.name === s));
}

interface DockerCase {
  containers: readonly ContainerSnapshot[];
  project: string;
  services: readonly string[];
  scope: AgentScope;
}

/**
 * Judges `call` under every mode and policy. Whenever the answer is allow or ask, every
 * container a touched reference could reach must be the DesiredState's own, and every one a
 * read reference could reach must be in its project; and the object the session will send
 * (resolveReference) must be that container, by full ID.
 */
function judgeDocker(world: DockerCase, call: PolicyRequest, tally: Tally): void {
  for (const policy of POLICIES) {
    for (const mode of MODES) {
      const decision: PolicyDecision = decide(call, policy, { mode, scope: world.scope });
      tally.judged++;
      if (decision.decision === "deny") continue;
      tally.passed++;
      const touches = call.mutating ? [...call.touches, ...classifyShell(call.argv).containers] : [];
      for (const reference of call.tool === "shell" ? touches : call.touches) {
        const reached = dockerCouldReach(reference, world.containers);
        assert.ok(reached.length > 0, `${decision.decision}: ${JSON.stringify(call)} names nothing`);
        for (const c of reached)
          assert.ok(
            ownContainer(c, world),
            `${decision.decision} in ${mode}: ${JSON.stringify(call.argv)} could reach ${c.name} (${c.project ?? "no project"})`,
          );
        const sent = resolveReference(world.scope, reference, "change");
        assert.ok(sent.ok && reached.some((c) => c.id === sent.object.id && sent.object.id.length === 64));
      }
      for (const reference of call.reads ?? []) {
        for (const c of dockerCouldReach(reference, world.containers))
          assert.equal(c.project, world.project, `${JSON.stringify(call)} reads ${c.name} outside the target`);
      }
    }
  }
}

/** The tool calls a model could make with `reference`: every Docker tool, and the shell forms of start/restart. */
function dockerCalls(reference: string): PolicyRequest[] {
  const typed = ["docker_inspect", "docker_logs", "docker_start", "docker_restart"].map((name) =>
    request(toolNamed(DOCKER_TOOLS, name), { container: reference }),
  );
  const shell = toolNamed(DOCKER_TOOLS, "shell");
  const shells = [
    ["docker", "restart", reference],
    ["docker", "start", reference],
    ["docker", "restart", "-t", "1", reference],
  ].map((argv) => request(shell, { argv }));
  return [...typed, ...shells].filter((r): r is PolicyRequest => r !== undefined);
}

describe("class 1, Docker: a call reaches only the DesiredState's own containers, by identity", () => {
  const world: DockerCase = {
    containers: HOST,
    project: "shop",
    services: SHOP_SERVICES,
    scope: dockerWorldScope({ project: "shop", services: SHOP_SERVICES, containers: HOST }),
  };

  it("the corpus, every container's name, and every prefix of every ID: nothing outside is allowed or asked", (t) => {
    const tally = new Tally();
    const references = new Set([
      ...CORPUS.dockerReferences,
      ...HOST.flatMap((c) => [c.name, ...Array.from({ length: 64 }, (_, i) => c.id.slice(0, i + 1))]),
    ]);
    for (const reference of references) for (const call of dockerCalls(reference)) judgeDocker(world, call, tally);
    for (const argv of CORPUS.shellMutations) {
      const call = request(toolNamed(DOCKER_TOOLS, "shell"), { argv });
      if (call) judgeDocker(world, call, tally);
    }
    assert.ok(tally.passed > 0, "the DesiredState's own containers are still reachable");
    tally.report(t, "Docker corpus");
  });

  it("regressions of issue 11: the other project's redis, and a declared name that is another container's ID prefix, are denied with the reason", () => {
    const wide = policyOf(["allow", "docker restart *"]);
    const redis = decide(
      request(toolNamed(DOCKER_TOOLS, "docker_restart"), { container: "redis" }) as PolicyRequest,
      wide,
      {
        mode: "auto",
        scope: world.scope,
      },
    );
    assert.deepEqual([redis.decision, redis.stage], ["deny", "target"]);
    assert.match(
      redis.reason,
      /"redis" is container redis \(compose project other, ID [0-9a-f]{12}\), which is not one of this DesiredState's own containers/,
    );
    const prefix = decide(
      request(toolNamed(DOCKER_TOOLS, "docker_restart"), { container: "3fa9" }) as PolicyRequest,
      wide,
      {
        mode: "auto",
        scope: world.scope,
      },
    );
    assert.match(prefix.reason, /"3fa9" is container other-cache \(compose project other/);
    const ours = decide(
      request(toolNamed(DOCKER_TOOLS, "docker_restart"), { container: "shop-web-1" }) as PolicyRequest,
      wide,
      {
        mode: "auto",
        scope: world.scope,
      },
    );
    assert.equal(ours.decision, "allow", ours.reason);
  });

  it("generated hosts: random names, projects, colliding names and ID prefixes (property)", (t) => {
    const tally = new Tally();
    const name = fc.constantFrom("redis", "db", "web", "cache", "ab", "3fa9", "shop-web-1", "x");
    const generated = fc.record({
      name,
      project: fc.constantFrom("shop", "other", undefined),
      service: fc.constantFrom("redis", "db", "web", "cache", undefined),
      idPrefix: fc.constantFrom("", "db", "ab", "3fa9", "a", "0"),
      salt: fc.nat(),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(generated, { minLength: 1, maxLength: 8, selector: (c) => c.name }),
        fc.subarray(["redis", "db", "web", "cache", "3fa9"]),
        fc.oneof(name, fc.stringMatching(/^[0-9a-f]{1,6}$/), fc.constantFrom(...CORPUS.dockerReferences)),
        (specs, services, reference) => {
          const containers = specs.map((s) =>
            container(s.name, {
              project: s.project,
              service: s.service,
              id: containerId(`${s.name}-${s.salt}`, s.idPrefix),
            }),
          );
          const scope = dockerWorldScope({ project: "shop", services, containers });
          const world = { containers, project: "shop", services, scope };
          for (const call of dockerCalls(reference)) judgeDocker(world, call, tally);
        },
      ),
      { numRuns: 400 },
    );
    tally.report(t, "Docker property");
  });
});

// ---------------------------------------------------------------------------------------
// Class 1, Kubernetes: pods by ownerReferences, never by labels.

const WEB = workload("Deployment", "web");
const DB = workload("StatefulSet", "db");
const inTarget = { team: "shop" };
const KUBE_WORKLOADS: WorkloadSnapshot[] = [
  { ...WEB, labels: { ...WEB.labels, ...inTarget } },
  { ...DB, labels: { ...DB.labels, ...inTarget } },
  { ...workload("Deployment", "web-canary"), labels: { app: "web", ...inTarget } },
  { ...workload("Deployment", "payments"), labels: { app: "payments" } },
];
const KUBE_REPLICASETS: ReplicaSetSnapshot[] = [
  replicaSet("web-7d9", "web"),
  replicaSet("web-canary-5c7", "web-canary"),
  // A ReplicaSet of an earlier Deployment named web (deleted, created again): another uid.
  {
    ...replicaSet("web-old", undefined),
    ownerReferences: [controllerRef("Deployment", "web", "uid-of-an-earlier-web")],
  },
];
const webLabels = { app: "web", ...inTarget };
const KUBE_PODS: PodSnapshot[] = [
  pod("web-7d9-a", { owners: [controllerRef("ReplicaSet", "web-7d9")], labels: webLabels }),
  pod("web-7d9-b", { owners: [controllerRef("ReplicaSet", "web-7d9")], labels: webLabels }),
  pod("web-canary-5c7-x1", { owners: [controllerRef("ReplicaSet", "web-canary-5c7")], labels: webLabels }),
  pod("impostor", { labels: webLabels }),
  pod("stale-web-old-1", { owners: [controllerRef("ReplicaSet", "web-old")], labels: webLabels }),
  pod("db-0", { owners: [controllerRef("StatefulSet", "db")], labels: { app: "db", ...inTarget } }),
  pod("db-1", { owners: [controllerRef("StatefulSet", "db")], labels: { app: "db", ...inTarget } }),
  pod("db-2", {
    owners: [{ ...controllerRef("StatefulSet", "db"), controller: false }],
    labels: { app: "db", ...inTarget },
  }),
  pod("payments-1", { owners: [controllerRef("ReplicaSet", "payments-1a2")], labels: { app: "payments" } }),
];

/** The pods the declared workloads own, by walking controller references by hand. */
function ownPods(
  declared: readonly WorkloadSnapshot[],
  replicaSets: readonly ReplicaSetSnapshot[],
  pods: readonly PodSnapshot[],
): Set<string> {
  const controller = (refs: PodSnapshot["ownerReferences"]): PodSnapshot["ownerReferences"][number] | undefined =>
    refs.find((r) => r.controller);
  const own = new Set<string>();
  for (const p of pods) {
    const owner = controller(p.ownerReferences);
    if (!owner) continue;
    if (owner.kind === "StatefulSet" && declared.some((w) => w.kind === "StatefulSet" && w.uid === owner.uid))
      own.add(p.name);
    if (owner.kind !== "ReplicaSet") continue;
    const rs = replicaSets.find((r) => r.uid === owner.uid);
    const top = rs && controller(rs.ownerReferences);
    if (top?.kind === "Deployment" && declared.some((w) => w.kind === "Deployment" && w.uid === top.uid))
      own.add(p.name);
  }
  return own;
}

interface KubeCase {
  scope: AgentScope;
  declared: readonly WorkloadSnapshot[];
  ownPods: ReadonlySet<string>;
  readable: ReadonlySet<string>;
}

function kubeCase(
  view: { workloads: WorkloadSnapshot[]; replicaSets: ReplicaSetSnapshot[]; pods: PodSnapshot[] },
  services: readonly string[],
): KubeCase {
  const selector = inTarget;
  const declared = view.workloads.filter(
    (w) => services.includes(`${w.kind}/${w.name}`) && Object.entries(selector).every(([k, v]) => w.labels[k] === v),
  );
  const readable = new Set(
    [
      ...view.workloads.map((w) => ({ id: `${w.kind.toLowerCase()}/${w.name}`, labels: w.labels })),
      ...view.pods.map((p) => ({ id: `pod/${p.name}`, labels: p.labels })),
    ]
      .filter((o) => Object.entries(selector).every(([k, v]) => o.labels[k] === v))
      .map((o) => o.id),
  );
  return {
    scope: kubernetesWorldScope({ services, selector, view }),
    declared,
    ownPods: ownPods(
      declared,
      view.replicaSets,
      view.pods.filter((p) => Object.entries(selector).every(([k, v]) => p.labels[k] === v)),
    ),
    readable,
  };
}

function kubeCalls(reference: string): PolicyRequest[] {
  const calls = [
    request(toolNamed(KUBERNETES_TOOLS, "kube_delete_pod"), { pod: reference }),
    request(toolNamed(KUBERNETES_TOOLS, "kube_logs"), { pod: reference }),
    request(toolNamed(KUBERNETES_TOOLS, "kube_scale"), { workload: reference, replicas: 0 }),
    request(toolNamed(KUBERNETES_TOOLS, "kube_rollout_restart"), { workload: reference }),
    request(toolNamed(KUBERNETES_TOOLS, "kube_scale"), { workload: `deployment/${reference}`, replicas: 0 }),
    request(toolNamed(KUBERNETES_TOOLS, "kube_rollout_restart"), { workload: `statefulset/${reference}` }),
    request(toolNamed(KUBERNETES_TOOLS, "shell"), { argv: ["kubectl", "delete", "pod", reference] }),
  ];
  return calls.filter((r): r is PolicyRequest => r !== undefined);
}

function judgeKube(world: KubeCase, call: PolicyRequest, tally: Tally): void {
  for (const policy of POLICIES) {
    for (const mode of MODES) {
      const decision = decide(call, policy, { mode, scope: world.scope });
      tally.judged++;
      if (decision.decision === "deny") continue;
      tally.passed++;
      for (const touched of call.touches) {
        const [kind = "", name = ""] = touched.split("/");
        const mine =
          kind === "pod"
            ? world.ownPods.has(name)
            : world.declared.some((w) => w.kind.toLowerCase() === kind && w.name === name);
        assert.ok(
          mine,
          `${decision.decision} in ${mode}: ${JSON.stringify(call.argv)} touches ${touched}, not the DesiredState's`,
        );
      }
      for (const read of call.reads ?? [])
        assert.ok(world.readable.has(read), `${JSON.stringify(call)} reads ${read} outside the target`);
    }
  }
}

describe("class 1, Kubernetes: a pod is the DesiredState's only through ownerReferences", () => {
  const world = kubeCase({ workloads: KUBE_WORKLOADS, replicaSets: KUBE_REPLICASETS, pods: KUBE_PODS }, [
    "Deployment/web",
    "StatefulSet/db",
  ]);

  it("the oracle: web owns web-7d9-a and -b, db owns db-0 and db-1; the canary, the impostor, the stale and the adopted pods are nobody's here", () => {
    assert.deepEqual([...world.ownPods].sort(), ["db-0", "db-1", "web-7d9-a", "web-7d9-b"]);
  });

  it("the corpus and every object's name: nothing outside is allowed or asked", (t) => {
    const tally = new Tally();
    const references = new Set([
      ...CORPUS.kubernetesReferences,
      ...KUBE_PODS.map((p) => p.name),
      ...KUBE_WORKLOADS.flatMap((w) => [w.name, `${w.kind.toLowerCase()}/${w.name}`]),
    ]);
    for (const reference of references) for (const call of kubeCalls(reference)) judgeKube(world, call, tally);
    assert.ok(tally.passed > 0);
    tally.report(t, "Kubernetes corpus");
  });

  it("regression of issue 11: web-canary's pod, labelled app=web, is not the web Deployment's to delete", () => {
    const call = request(toolNamed(KUBERNETES_TOOLS, "kube_delete_pod"), { pod: "web-canary-5c7-x1" }) as PolicyRequest;
    const got = decide(call, policyOf(["allow", "kubectl delete pod *"]), { mode: "auto", scope: world.scope });
    assert.deepEqual([got.decision, got.stage], ["deny", "target"]);
    assert.match(
      got.reason,
      /"pod\/web-canary-5c7-x1" is not one of this DesiredState's own workloads or the pods they own/,
    );
  });

  it("generated namespaces: random labels copied onto pods, random owners, controller or not (property)", (t) => {
    const tally = new Tally();
    const owners = fc.constantFrom(
      [],
      [controllerRef("ReplicaSet", "web-7d9")],
      [controllerRef("ReplicaSet", "web-canary-5c7")],
      [controllerRef("ReplicaSet", "web-old")],
      [controllerRef("StatefulSet", "db")],
      [{ ...controllerRef("StatefulSet", "db"), controller: false }],
      [{ ...controllerRef("ReplicaSet", "web-7d9"), controller: false }, controllerRef("ReplicaSet", "web-canary-5c7")],
      [controllerRef("StatefulSet", "db", "uid-of-another-db")],
    );
    const labels = fc.constantFrom({}, { app: "web" }, webLabels, { app: "db", ...inTarget }, inTarget);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.record({ name: fc.stringMatching(/^[a-z]([-a-z0-9]{0,6}[a-z0-9])?$/), owners, labels }), {
          maxLength: 8,
          selector: (p) => p.name,
        }),
        fc.subarray(["Deployment/web", "StatefulSet/db", "Deployment/web-canary"]),
        (specs, services) => {
          const pods = specs.map((s) => pod(s.name, { owners: s.owners, labels: s.labels }));
          const generated = kubeCase({ workloads: KUBE_WORKLOADS, replicaSets: KUBE_REPLICASETS, pods }, services);
          for (const s of specs) for (const call of kubeCalls(s.name)) judgeKube(generated, call, tally);
        },
      ),
      { numRuns: 300 },
    );
    tally.report(t, "Kubernetes property");
  });
});

// ---------------------------------------------------------------------------------------
// Class 2: no model-chosen destinations.

/** The client URLs the target's etcd members advertise: what a shell command may name. */
const MEMBERS = ["http://127.0.0.1:12379", "http://127.0.0.1:22379", "http://127.0.0.1:32379"];
const ETCD_SCOPE = dockerWorldScope({
  project: "etcd",
  services: ["etcd0", "etcd1", "etcd2"],
  containers: ["etcd0", "etcd1", "etcd2"].map((m) => container(m, { project: "etcd", service: m })),
  facts: Object.fromEntries(MEMBERS.map((url, i) => [`etcd${i}`, { secrets: [], endpoints: [url] }])),
});

/** host:port of a URL or `host:port`, by the URL parser; undefined if it is neither. */
function hostPort(value: string): string | undefined {
  try {
    const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `x://${value}`);
    return url.hostname ? `${url.hostname}:${url.port}` : undefined;
  } catch {
    return undefined;
  }
}
const KNOWN = new Set(MEMBERS.map(hostPort));
const DESTINATION_FLAG = /^--?[a-z-]*(endpoint|host|discovery|url|server|proxy|peer)/i;
const CREDENTIAL_FLAG = /^--?[a-z-]*(user|pass|cert|key|cacert|token|insecure|context|config|tls|cred)/i;

/** Oracle: every destination an allowed argv names is a member's URL, and it sets no credentials. */
function assertNoForeignDestination(argv: readonly string[], decision: PolicyDecision): void {
  const why = `${decision.decision} (${decision.reason}): ${JSON.stringify(argv)}`;
  argv.slice(1).forEach((element, i) => {
    assert.ok(!CREDENTIAL_FLAG.test(element) && !/^-c$/.test(element), `credentials: ${why}`);
    const flagValue = DESTINATION_FLAG.test(element) ? (element.split("=")[1] ?? argv[i + 2] ?? "") : undefined;
    const values = flagValue !== undefined ? flagValue.split(",") : /:\/\/|^[^/]+:\d+$/.test(element) ? [element] : [];
    for (const value of values) assert.ok(KNOWN.has(hostPort(value)), `destination ${value}: ${why}`);
    assert.ok(!/^-H/.test(element) || KNOWN.has(hostPort(element.slice(2) || (argv[i + 2] ?? ""))), `-H: ${why}`);
  });
}

function judgeShell(argv: readonly string[], tally: Tally): void {
  const call = request(toolNamed(DOCKER_TOOLS, "shell"), { argv });
  if (!call) return;
  for (const policy of [...POLICIES, policyOf(["allow", "etcdctl --endpoints=* *"]), policyOf(["allow", "curl *"])]) {
    for (const mode of MODES) {
      const decision = decide(call, policy, { mode, scope: ETCD_SCOPE });
      tally.judged++;
      if (decision.decision === "deny") continue;
      tally.passed++;
      assertNoForeignDestination(argv, decision);
    }
  }
}

describe("class 2: a shell command names only endpoints Steward knows, and never credentials", () => {
  it("the corpus (the issue's etcdctl exfiltration, SSRF and credential probes, docker -H, curl): every one denied", (t) => {
    const tally = new Tally();
    const allowAll = policyOf(["allow", "*"]);
    for (const argv of CORPUS.destinations) {
      judgeShell(argv, tally);
      const got = decide(request(toolNamed(DOCKER_TOOLS, "shell"), { argv }) as PolicyRequest, allowAll, {
        mode: "auto",
        scope: ETCD_SCOPE,
      });
      assert.equal(got.decision, "deny", `${JSON.stringify(argv)}: ${got.reason}`);
    }
    // A wildcard never stands for a destination flag: a policy that allows one names it.
    const namesTheFlag = policyOf(["allow", "etcdctl --endpoints=* *"], ["allow", "etcdctl --endpoints * *"]);
    for (const argv of CORPUS.knownDestinations) {
      judgeShell(argv, tally);
      assert.equal(
        decide(request(toolNamed(DOCKER_TOOLS, "shell"), { argv }) as PolicyRequest, allowAll, {
          mode: "auto",
          scope: ETCD_SCOPE,
        }).decision,
        "deny",
      );
      const got = decide(request(toolNamed(DOCKER_TOOLS, "shell"), { argv }) as PolicyRequest, namesTheFlag, {
        mode: "auto",
        scope: ETCD_SCOPE,
      });
      assert.equal(got.decision, "allow", `a member's own URL: ${JSON.stringify(argv)}: ${got.reason}`);
    }
    tally.report(t, "destination corpus");
  });

  it("the default policy still lets an etcd health check name a member, unasked, in observe mode", () => {
    for (const url of MEMBERS) {
      const call = request(toolNamed(DOCKER_TOOLS, "shell"), {
        argv: ["etcdctl", `--endpoints=${url}`, "endpoint", "health"],
      });
      assert.equal(
        decide(call as PolicyRequest, DEFAULT_POLICY, { mode: "observe", scope: ETCD_SCOPE }).decision,
        "allow",
      );
    }
  });

  it("generated argv: destination and credential flags anywhere, hostile hosts, every policy and mode (property)", (t) => {
    const tally = new Tally();
    const host = fc.oneof(
      fc.constantFrom("169.254.169.254", "127.0.0.1", "[::1]", "localhost", "metadata.google.internal", "2852039166"),
      fc.domain(),
      fc.ipV4(),
      fc.stringMatching(/^[a-z0-9]{4,20}$/).map((d) => `${d}.exfil.example`),
    );
    const port = fc.constantFrom("12379", "22379", "2379", "80", "443", "4444");
    const url = fc
      .tuple(fc.constantFrom("http://", "https://", "", "unix://", "tcp://"), host, port)
      .map(([s, h, p]) => `${s}${h}:${p}`);
    const destination = fc.oneof(url, fc.constantFrom(...MEMBERS));
    const flag = fc.oneof(
      destination.map((d) => [`--endpoints=${d}`]),
      destination.map((d) => ["--endpoints", d]),
      host.map((h) => [`--discovery-srv=${h}`]),
      fc.constantFrom(
        ["--user=root:guess"],
        ["--password", "x"],
        ["--cert=/x"],
        ["--insecure-skip-tls-verify"],
        ["--cluster"],
      ),
      destination.map((d) => ["-H", d]),
      destination.map((d) => [`--host=${d}`]),
      fc.constantFrom(["-w", "table"], ["--dial-timeout=1s"], ["--hex"]),
      destination.map((d) => [d]),
    );
    fc.assert(
      fc.property(
        fc.constantFrom("etcdctl", "docker", "curl"),
        fc.array(flag, { maxLength: 3 }),
        fc.constantFrom(["endpoint", "health"], ["endpoint", "status"], ["member", "list"], ["ps"], ["start", "etcd0"]),
        fc.array(flag, { maxLength: 2 }),
        (program, before, words, after) => judgeShell([program, ...before.flat(), ...words, ...after.flat()], tally),
      ),
      { numRuns: 1_500 },
    );
    tally.report(t, "destination property");
  });
});
