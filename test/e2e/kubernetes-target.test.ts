import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { writeManifest } from "../support/desired-states.js";
import {
  FakeMessagesServer,
  lastToolResults,
  toolUse,
  type FakeAnswer,
  type RecordedRequest,
} from "../support/fake-anthropic.js";
import { kubectl, kubectlOk } from "../support/kubectl.js";
import {
  busyboxDeployment,
  clusterWithNode,
  waitForCluster,
  IDLE,
  podsWithApp,
  readyPods,
  type PodState,
} from "../support/node.js";
import { StewardProcess, tempStateDir } from "../support/steward.js";

/**
 * DesiredStates whose target is a Kubernetes namespace, on the test cluster's real node: the
 * controller-manager makes ReplicaSets and pods, kubelet runs them, crash-loops them with
 * its own back-off and probes their readiness. Nothing here writes a status by hand.
 */

const usage = { input_tokens: 120, output_tokens: 12, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };

function desiredState(namespace: string, name: string, services: string, agentMode = "approve"): string {
  return `apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  target: {kubernetes: {namespace: ${namespace}, selector: {ds: ${name}}}}
  services:
${services}
  remediation:
    agent: {mode: ${agentMode}}
    cooldown: 0s
`;
}

async function apply(dir: string, file: string, yaml: string): Promise<void> {
  await kubectlOk("apply", "-f", await writeManifest(dir, file, yaml));
}

async function waitReady(namespace: string, name: string): Promise<void> {
  await waitForCluster(
    async () =>
      new RegExp(`^${name}\\s+True\\s`, "m").test((await kubectl("get", "desiredstates", "-n", namespace)).stdout),
    60_000,
    `${name} Ready in kubectl get desiredstates`,
  );
}

/** The namespace controller runs on this cluster: deleting the namespace deletes everything in it. */
async function deleteNamespace(namespace: string): Promise<void> {
  await kubectl("delete", "namespace", namespace, "--wait=false");
}

async function remediationIn(namespace: string, phase: string): Promise<string> {
  return waitForCluster(
    async () => {
      const out = (
        await kubectl(
          "get",
          "rem",
          "-n",
          namespace,
          "-o",
          'jsonpath={range .items[*]}{.metadata.name} {.status.phase}{"\\n"}{end}',
        )
      ).stdout;
      return new RegExp(`^(\\S+) ${phase}$`, "m").exec(out)?.[1];
    },
    90_000,
    `a remediation in ${namespace} in phase ${phase}`,
  );
}

/**
 * An app that reads its mode once per pod: an init container copies the ConfigMap into the
 * pod's emptyDir, and the app refuses to start on any mode but `serve`. A bad mode crash-loops
 * the pod for good: fixing the ConfigMap helps only a new pod, which is why a rollout
 * restart or a pod deletion is the fix. Ready once it has started (after a 2 s delay, so
 * "Ready" is a moment of its own, after "Running").
 */
function configuredApp(namespace: string, name: string, mode: string): string {
  const script = [
    `mode=$(cat /run/app/mode)`,
    `echo "${name} starting in mode $mode"`,
    `if [ "$mode" != serve ]; then echo "fatal: unknown mode '$mode' in /run/app/mode" >&2; exit 1; fi`,
    `touch /run/app/started`,
    IDLE,
  ].join("; ");
  return `apiVersion: v1
kind: ConfigMap
metadata: {name: ${name}-config, namespace: ${namespace}}
data: {mode: ${mode}}
---
${busyboxDeployment({
  namespace,
  name,
  replicas: 1,
  labels: { ds: name },
  script,
  readiness: "test -f /run/app/started",
  readinessDelay: 2,
  // Recreate: the crash-looping pod goes at once, before its replacement is Ready, so a
  // verification that only looked for the old pod would pass too early.
  strategy: "Recreate",
  extraContainer: `
          volumeMounts: [{name: app, mountPath: /run/app}]`,
  extraPodSpec: `
      initContainers:
        - name: config
          image: steward-node/busybox:1
          imagePullPolicy: Never
          command: [cp, /config/mode, /run/app/mode]
          volumeMounts: [{name: config, mountPath: /config}, {name: app, mountPath: /run/app}]
      volumes:
        - {name: config, configMap: {name: ${name}-config}}
        - {name: app, emptyDir: {}}`,
})}`;
}

/** The crash-looping pod the remediation is about, as the incident message names it. */
function podInIncident(request: RecordedRequest, app: string): string {
  const pod = new RegExp(`pod/(${app}-[a-z0-9]+-[a-z0-9]+)`).exec(JSON.stringify(request.body?.messages[0]))?.[1];
  if (!pod) throw new Error(`no pod of ${app} in the incident message`);
  return pod;
}

interface DriftJson {
  type: string;
  subject: string;
  observed: string;
  evidence: {
    containers?: { pod: string; name: string; restartCount: number; exitCode: number; state: string; logs: string[] }[];
    workload?: { kind: string; name: string; replicas: number; readyReplicas: number; pods: string[] };
  };
}

async function driftOf(namespace: string, remediation: string): Promise<DriftJson[]> {
  return JSON.parse(
    await kubectlOk("get", "rem", remediation, "-n", namespace, "-o", "jsonpath={.spec.drift}"),
  ) as DriftJson[];
}

describe("a Deployment on a real node: scaled down by a person, and one whose readiness probe fails", () => {
  const namespace = `steward-kt-${randomBytes(3).toString("hex")}`;
  let state: string;
  let steward: StewardProcess;

  before(async () => {
    await clusterWithNode();
    state = await tempStateDir();
    await kubectlOk("create", "namespace", namespace);
    await apply(
      state,
      "workloads.yaml",
      [
        busyboxDeployment({
          namespace,
          name: "web",
          replicas: 2,
          labels: { ds: "shop" },
          script: IDLE,
          readiness: "true",
        }),
        // Never Ready: its probe looks for a file nothing writes. Created first thing, so
        // its 60 s of grace (UNREADY_GRACE_MS) run while the scale-back test does.
        busyboxDeployment({
          namespace,
          name: "slow",
          replicas: 1,
          labels: { ds: "slow" },
          script: IDLE,
          readiness: "test -f /tmp/warmed-up",
        }),
      ].join("---\n"),
    );
    steward = new StewardProcess(state, ["--targets", "kubernetes", "--watch-namespace", namespace], {
      STEWARD_STORE: "kubernetes",
    });
    await steward.start();
    await apply(
      state,
      "desired-states.yaml",
      [
        desiredState(namespace, "shop", "    - {name: Deployment/web, replicas: 2, healthy: true}"),
        desiredState(namespace, "slow", "    - {name: Deployment/slow, replicas: 1, healthy: true}"),
      ].join("---\n"),
    );
  });

  after(async () => {
    assert.equal(await steward.stop(), 0);
    await deleteNamespace(namespace);
  });

  it("Steward scales it back; the controller-manager creates the pod and kubelet runs it Ready", async () => {
    await waitReady(namespace, "shop");
    const before = await readyPods(namespace, "web", 2);
    await kubectlOk("scale", "deployment", "web", "-n", namespace, "--replicas=1");
    await waitForCluster(
      async () =>
        (await kubectlOk("get", "deployment", "web", "-n", namespace, "-o", "jsonpath={.spec.replicas}")) === "2",
      20_000,
      "web scaled back to 2",
    );
    const after = await readyPods(namespace, "web", 2);
    const uids = new Set(before.map((p) => p.uid));
    assert.equal(after.filter((p) => !uids.has(p.uid)).length, 1, "one pod went with the scale-down, one new pod came");
    const readyReplicas = await kubectlOk(
      "get",
      "deployment",
      "web",
      "-n",
      namespace,
      "-o",
      "jsonpath={.status.readyReplicas}",
    );
    assert.equal(readyReplicas, "2");
    const fixes = await kubectlOk(
      "get",
      "desiredstate",
      "shop",
      "-n",
      namespace,
      "-o",
      'jsonpath={range .status.fixes[*]}{.subject} {.action} {.result}{"\\n"}{end}',
    );
    assert.match(fixes, /^deployment\/web scale Succeeded$/m);
    const described = await waitForCluster(
      async () => {
        const out = (await kubectl("describe", "desiredstate", "shop", "-n", namespace)).stdout;
        return /SimpleFixApplied/.test(out) ? out : undefined;
      },
      10_000,
      "the scale as an Event",
    );
    assert.match(described, /Normal\s+SimpleFixApplied[\s\S]*scaled deployment\/web back to 2 replicas \(1 replicas\)/);
    await waitReady(namespace, "shop");
    const remediations = await kubectlOk(
      "get",
      "rem",
      "-n",
      namespace,
      "-l",
      "steward.dev/desired-state=shop",
      "-o",
      "name",
    );
    assert.equal(remediations.trim(), "", "a scale-back opens no remediation");
  });

  it("a pod that kubelet's readiness probe keeps failing opens WorkloadUnready after the grace", async () => {
    const [pod] = await podsWithApp(namespace, "slow");
    assert.ok(pod, "the slow pod exists");
    // kubelet's own record of the failing probe.
    await waitForCluster(
      async () =>
        /Readiness probe failed/.test(
          await kubectlOk("get", "events", "-n", namespace, "--field-selector", `involvedObject.name=${pod.name}`),
        ),
      30_000,
      "kubelet's Unhealthy event",
    );
    const name = await remediationIn(namespace, "Pending");
    const [drift] = await driftOf(namespace, name);
    assert.equal(drift?.type, "WorkloadUnready");
    assert.equal(drift?.subject, "deployment/slow");
    assert.equal(drift?.observed, "0/1 ready");
    assert.deepEqual(drift?.evidence.workload, {
      kind: "Deployment",
      name: "slow",
      replicas: 1,
      readyReplicas: 0,
      updatedReplicas: 1,
      pods: [pod.name],
    });
    const [container] = drift?.evidence.containers ?? [];
    assert.equal(container?.pod, pod.name);
    assert.equal(container?.state, "running", "running, only not ready");
    assert.equal(container?.restartCount, 0);
  });
});

describe("a real crash loop: a remediation with kubelet's evidence, kube_rollout_restart approved, verified on the new pod", () => {
  const namespace = `steward-kr-${randomBytes(3).toString("hex")}`;
  let state: string;
  let steward: StewardProcess;
  let fake: FakeMessagesServer;
  const seen: RecordedRequest[] = [];
  const step =
    (answer: (request: RecordedRequest) => FakeAnswer) =>
    (request: RecordedRequest): FakeAnswer => {
      seen.push(request);
      return answer(request);
    };

  before(async () => {
    await clusterWithNode();
    fake = new FakeMessagesServer([
      step((request) => ({
        content: [toolUse("kube_logs", { pod: podInIncident(request, "api"), previous: true }, "toolu_logs")],
        stop_reason: "tool_use",
        usage,
      })),
      step(() => ({
        content: [toolUse("kube_rollout_restart", { workload: "deployment/api" }, "toolu_restart")],
        stop_reason: "tool_use",
        usage,
      })),
      step(() => ({
        content: [toolUse("resolve", { summary: "the mode is fixed in the ConfigMap; new pods read it" })],
        stop_reason: "tool_use",
        usage,
      })),
    ]);
    const baseURL = await fake.start();
    state = await tempStateDir();
    await kubectlOk("create", "namespace", namespace);
    steward = new StewardProcess(
      state,
      ["--targets", "kubernetes", "--verify-timeout", "60s", "--watch-namespace", namespace],
      { STEWARD_STORE: "kubernetes", ANTHROPIC_API_KEY: "test-key-not-secret", ANTHROPIC_BASE_URL: baseURL },
    );
    await steward.start();
    await apply(state, "api.yaml", configuredApp(namespace, "api", "broken"));
    await apply(
      state,
      "ds.yaml",
      desiredState(namespace, "api", "    - {name: Deployment/api, replicas: 1, healthy: true}"),
    );
  });

  after(async () => {
    await steward.stop();
    await fake.close();
    await deleteNamespace(namespace);
  });

  it("opens PodCrashLooping with the real restart count, exit code and the previous run's log; Resolved once the new pod is Ready", async () => {
    const name = await remediationIn(namespace, "AwaitingApproval");
    const [old] = await podsWithApp(namespace, "api");
    assert.ok(old, "the crash-looping pod");
    const [drift] = await driftOf(namespace, name);
    assert.equal(drift?.type, "PodCrashLooping");
    assert.equal(drift?.subject, `pod/${old.name}`);
    assert.match(
      drift?.observed ?? "",
      /^CrashLoopBackOff: container main, \d+ restarts, last terminated Error \(exit code 1\)$/,
    );
    const [container] = drift?.evidence.containers ?? [];
    assert.equal(container?.pod, old.name);
    assert.equal(container?.exitCode, 1);
    assert.equal(container?.state, "waiting (CrashLoopBackOff)");
    assert.ok((container?.restartCount ?? 0) >= 1 && (container?.restartCount ?? 0) <= old.restartCount);
    assert.match(container?.logs.join("\n") ?? "", /fatal: unknown mode 'broken' in \/run\/app\/mode/);
    // The model read the same log through kube_logs: kubelet served it, by way of the API server.
    const logs = seen.flatMap((r) => lastToolResults(r)).find((r) => r.toolUseId === "toolu_logs");
    assert.equal(logs?.isError, false);
    assert.match(logs?.text ?? "", /fatal: unknown mode 'broken'/);
    assert.match(
      await kubectlOk("get", "rem", name, "-n", namespace, "-o", "jsonpath={.status.pendingApproval[0].command}"),
      /"kubectl","rollout","restart","deployment\/api"/,
    );

    // A person fixes the config, then approves the restart the agent asked for.
    await kubectlOk(
      "patch",
      "configmap",
      "api-config",
      "-n",
      namespace,
      "--type=merge",
      "-p",
      '{"data":{"mode":"serve"}}',
    );
    await kubectlOk(
      "annotate",
      "remediation",
      name,
      "-n",
      namespace,
      "steward.dev/approve=toolu_restart",
      "steward.dev/approved-by=erin",
    );
    await waitForCluster(
      async () =>
        (await kubectl("get", "rem", name, "-n", namespace, "-o", "jsonpath={.status.phase}")).stdout === "Resolved",
      90_000,
      "Resolved after verification",
    );
    const pods = await podsWithApp(namespace, "api");
    const current = pods.filter((p) => !p.terminating);
    assert.equal(current.length, 1);
    assert.notEqual(current[0]?.uid, old.uid, "a new pod replaced the crash-looping one");
    assert.equal(current[0]?.ready, true, "Resolved only once the new pod is Ready");
    assert.equal(current[0]?.restartCount, 0);
    const verifiedAt = await kubectlOk("get", "rem", name, "-n", namespace, "-o", "jsonpath={.status.verifiedAt}");
    assert.ok(
      Date.parse(current[0]?.readySince ?? "") <= Date.parse(verifiedAt),
      "verified after the pod became Ready",
    );
    const actions = await kubectlOk(
      "get",
      "rem",
      name,
      "-n",
      namespace,
      "-o",
      'jsonpath={range .status.actions[*]}{.tool} {.decision} {.approver}{"\\n"}{end}',
    );
    assert.match(actions, /^kube_rollout_restart ask erin$/m);
    const replicaSets = await kubectlOk("get", "replicasets", "-n", namespace, "-l", "app=api", "-o", "name");
    assert.equal(replicaSets.trim().split("\n").length, 2, "the restart made a new ReplicaSet");
  });
});

describe("kube_delete_pod on a real node: the ReplicaSet recreates the pod; another Deployment's pod is out of reach", () => {
  const namespace = `steward-kd-${randomBytes(3).toString("hex")}`;
  let state: string;
  let steward: StewardProcess;
  let fake: FakeMessagesServer;
  let foreign: PodState;
  const seen: RecordedRequest[] = [];
  let crashing = "";

  before(async () => {
    await clusterWithNode();
    fake = new FakeMessagesServer([
      (request) => {
        seen.push(request);
        crashing = podInIncident(request, "api");
        return { content: [toolUse("kube_get", { kind: "pods" }, "toolu_get")], stop_reason: "tool_use", usage };
      },
      (request) => {
        seen.push(request);
        return {
          content: [
            toolUse("kube_scale", { workload: "deployment/other", replicas: 0 }, "toolu_foreign_scale"),
            toolUse("kube_delete_pod", { pod: foreign.name }, "toolu_foreign_pod"),
          ],
          stop_reason: "tool_use",
          usage,
        };
      },
      (request) => {
        seen.push(request);
        return {
          content: [toolUse("kube_delete_pod", { pod: crashing }, "toolu_delete")],
          stop_reason: "tool_use",
          usage,
        };
      },
      (request) => {
        seen.push(request);
        return {
          content: [toolUse("resolve", { summary: "deleted the crash-looping pod; its replacement is ready" })],
          stop_reason: "tool_use",
          usage,
        };
      },
    ]);
    const baseURL = await fake.start();
    state = await tempStateDir();
    await kubectlOk("create", "namespace", namespace);
    await apply(
      state,
      "other.yaml",
      busyboxDeployment({ namespace, name: "other", replicas: 1, script: IDLE, readiness: "true" }),
    );
    [foreign] = (await readyPods(namespace, "other", 1)) as [PodState];
    steward = new StewardProcess(
      state,
      ["--targets", "kubernetes", "--verify-timeout", "60s", "--watch-namespace", namespace],
      { STEWARD_STORE: "kubernetes", ANTHROPIC_API_KEY: "test-key-not-secret", ANTHROPIC_BASE_URL: baseURL },
    );
    await steward.start();
    await apply(state, "api.yaml", configuredApp(namespace, "api", "broken"));
    // The target is the whole namespace: Deployment other is in it, but not declared.
    await apply(
      state,
      "ds.yaml",
      desiredState(namespace, "api", "    - {name: Deployment/api, replicas: 1, healthy: true}").replace(
        ", selector: {ds: api}",
        "",
      ),
    );
  });

  after(async () => {
    await steward.stop();
    await fake.close();
    await deleteNamespace(namespace);
  });

  it("reads the pods, is refused the foreign ones, deletes its own after approval, and is verified on the new pod", async () => {
    const name = await remediationIn(namespace, "AwaitingApproval");
    const results = seen.flatMap((r) => lastToolResults(r));
    assert.match(
      results.find((r) => r.toolUseId === "toolu_get")?.text ?? "",
      new RegExp(
        `${crashing}\\s+Running\\s+not-ready\\s+main:waiting\\(CrashLoopBackOff\\) restarts=\\d+ last=Error\\(exit 1\\)`,
      ),
    );
    for (const [id, what] of [
      ["toolu_foreign_scale", '"deployment/other" is not one of this DesiredState\'s own'],
      ["toolu_foreign_pod", `"pod/${foreign.name}" is not one of this DesiredState's own`],
    ] as const) {
      const result = results.find((r) => r.toolUseId === id);
      assert.equal(result?.isError, true, id);
      assert.ok(result?.text.includes(what), `${id}: ${result?.text}`);
    }
    const [old] = await podsWithApp(namespace, "api");
    assert.equal(old?.name, crashing);
    assert.equal(old?.terminating, false, "nothing is deleted before approval");

    await kubectlOk(
      "patch",
      "configmap",
      "api-config",
      "-n",
      namespace,
      "--type=merge",
      "-p",
      '{"data":{"mode":"serve"}}',
    );
    await kubectlOk(
      "annotate",
      "remediation",
      name,
      "-n",
      namespace,
      "steward.dev/approve=toolu_delete",
      "steward.dev/approved-by=dana",
    );
    await waitForCluster(
      async () =>
        (await kubectl("get", "rem", name, "-n", namespace, "-o", "jsonpath={.status.phase}")).stdout === "Resolved",
      90_000,
      "Resolved after verification",
    );
    const [replacement] = (await podsWithApp(namespace, "api")).filter((p) => !p.terminating);
    assert.ok(replacement && replacement.uid !== old.uid, "a new pod");
    assert.equal(replacement.ready, true);
    assert.deepEqual(replacement.owners, old.owners, "made by the same ReplicaSet");
    const [owner] = old.owners;
    assert.match(owner ?? "", /^ReplicaSet\/api-[a-z0-9]+$/);
    const rsOwner = await kubectlOk(
      "get",
      "replicaset",
      (owner ?? "").slice("ReplicaSet/".length),
      "-n",
      namespace,
      "-o",
      "jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}",
    );
    assert.equal(rsOwner, "Deployment/api");
    assert.equal((await podsWithApp(namespace, "other"))[0]?.uid, foreign.uid, "the foreign pod is untouched");
    const actions = await kubectlOk(
      "get",
      "rem",
      name,
      "-n",
      namespace,
      "-o",
      'jsonpath={range .status.actions[*]}{.tool} {.decision} {.approver}{"\\n"}{end}',
    );
    assert.match(actions, /^kube_scale deny\s*$/m);
    assert.match(actions, /^kube_delete_pod deny\s*$/m);
    assert.match(actions, /^kube_delete_pod ask dana$/m);
    const described = await waitForCluster(
      async () => {
        const out = (await kubectl("describe", "remediation", name, "-n", namespace)).stdout;
        return /Resolved/.test(out.split("Events:")[1] ?? "") ? out : undefined;
      },
      10_000,
      "each step as an Event in kubectl describe",
    );
    assert.match(described, /Warning\s+ActionDenied\s[\s\S]*kubectl scale deployment\/other --replicas=0: denied/);
    assert.match(
      described,
      new RegExp(`Normal\\s+ActionExecuted\\s[\\s\\S]*kubectl delete pod ${crashing}: ran \\(approved by dana\\)`),
    );
  });
});
