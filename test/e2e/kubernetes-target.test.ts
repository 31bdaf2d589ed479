import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { waitFor } from "../../scripts/lib/wait.js";
import { FakeMessagesServer, lastToolResults, toolUse, type RecordedRequest } from "../support/fake-anthropic.js";
import { cluster } from "../support/kube.js";
import { kubectl, kubectlOk } from "../support/kubectl.js";
import { StewardProcess, tempStateDir } from "../support/steward.js";
import { createPod, podStatus, replicaSetOf, type Owner } from "../support/kube-workloads.js";

/**
 * A DesiredState whose target is a Kubernetes namespace. The test control plane has no
 * nodes and no controllers, so the test plays the kubelet and the Deployment and ReplicaSet
 * controllers: it creates the ReplicaSet and the pods it owns (ownerReferences: that is how
 * Steward tells the Deployment's pods) and writes pod and workload status the way they would.
 */

const usage = { input_tokens: 120, output_tokens: 12, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };

function workloadManifests(namespace: string): string {
  return `apiVersion: v1
kind: Namespace
metadata: {name: ${namespace}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${namespace}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: main, image: steward-demo/web:1}]
`;
}

function desiredState(namespace: string, agentMode: string): string {
  return `apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: shop, namespace: ${namespace}}
spec:
  target: {kubernetes: {namespace: ${namespace}}}
  services:
    - {name: Deployment/web, replicas: 2, restartBudget: {max: 3, window: 10m}}
  remediation:
    agent: {mode: ${agentMode}}
    cooldown: 0s
`;
}

async function setWorkloadStatus(namespace: string, ready: number): Promise<void> {
  const status = {
    status: { observedGeneration: 1, replicas: 2, readyReplicas: ready, updatedReplicas: 2, availableReplicas: ready },
  };
  await kubectlOk(
    "patch",
    "deployment",
    "web",
    "-n",
    namespace,
    "--subresource=status",
    "--type=merge",
    "-p",
    JSON.stringify(status),
  );
}

/** The Deployment, its ReplicaSet and two ready pods it owns; returns the ReplicaSet, owner of any later pod. */
async function setup(dir: string, namespace: string, agentMode: string): Promise<Owner> {
  await writeFile(join(dir, "workloads.yaml"), workloadManifests(namespace));
  await kubectlOk("apply", "-f", join(dir, "workloads.yaml"));
  const owner = await replicaSetOf(dir, { namespace, deployment: "web", name: "web-7d9", labels: { app: "web" } });
  for (const name of ["web-1", "web-2"])
    await createPod(dir, { namespace, name, labels: { app: "web" }, owner, state: "ready" });
  await setWorkloadStatus(namespace, 2);
  await writeFile(join(dir, "shop.yaml"), desiredState(namespace, agentMode));
  await kubectlOk("apply", "-f", join(dir, "shop.yaml"));
  await waitFor(
    async () => /^shop\s+True\s/m.test((await kubectl("get", "desiredstates", "-n", namespace)).stdout),
    30_000,
    "shop Ready in kubectl get desiredstates",
  );
  return owner;
}

/**
 * Nothing may be left open for a Steward of a later test that watches all namespaces. The
 * test control plane runs no namespace controller: the objects are deleted one by one.
 */
async function cleanup(namespace: string): Promise<void> {
  await kubectl(
    "delete",
    "desiredstates,remediations,deployments,replicasets,pods",
    "--all",
    "-n",
    namespace,
    "--wait=false",
  );
  await kubectl("delete", "namespace", namespace, "--wait=false");
}

describe("a DesiredState targeting a Kubernetes Deployment (steward --store kubernetes --targets kubernetes)", () => {
  const namespace = `steward-kt-${randomBytes(3).toString("hex")}`;
  let state: string;
  let steward: StewardProcess;

  before(async () => {
    await cluster();
    state = await tempStateDir();
    steward = new StewardProcess(state, ["--targets", "kubernetes", "--watch-namespace", namespace], {
      STEWARD_STORE: "kubernetes",
    });
    await steward.start();
    await setup(state, namespace, "approve");
  });

  after(async () => {
    await cleanup(namespace);
    assert.equal(await steward.stop(), 0);
  });

  it("scaled down by someone: Steward scales it back to the declared replicas, with an Event", async () => {
    await kubectlOk("scale", "deployment", "web", "-n", namespace, "--replicas=1");
    await waitFor(
      async () =>
        (await kubectlOk("get", "deployment", "web", "-n", namespace, "-o", "jsonpath={.spec.replicas}")) === "2",
      20_000,
      "web scaled back to 2",
    );
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
    const described = await waitFor(
      async () => {
        const out = (await kubectl("describe", "desiredstate", "shop", "-n", namespace)).stdout;
        return /SimpleFixApplied/.test(out) ? out : undefined;
      },
      10_000,
      "the scale as an Event",
    );
    assert.match(described, /Normal\s+SimpleFixApplied[\s\S]*scaled deployment\/web back to 2 replicas \(1 replicas\)/);
    assert.equal(
      (await kubectlOk("get", "rem", "-n", namespace, "-o", "name")).trim(),
      "",
      "a scale-back opens no remediation",
    );
  });

  it("a crash-looping pod opens a remediation with the pod's evidence, listed by kubectl get remediations", async () => {
    await kubectlOk(
      "patch",
      "pod",
      "web-2",
      "-n",
      namespace,
      "--subresource=status",
      "--type=merge",
      "-p",
      podStatus("crashloop"),
    );
    await setWorkloadStatus(namespace, 1);
    const table = await waitFor(
      async () => {
        const out = (await kubectl("get", "remediations", "-n", namespace)).stdout;
        return /NoModelConfigured/.test(out) ? out : undefined;
      },
      20_000,
      "a remediation in kubectl get remediations",
    );
    assert.match(table, /^\S+\s+shop\s+Pending\s+NoModelConfigured\s/m);
    const name = (await kubectlOk("get", "rem", "-n", namespace, "-o", "jsonpath={.items[0].metadata.name}")).trim();
    const drift = JSON.parse(await kubectlOk("get", "rem", name, "-n", namespace, "-o", "jsonpath={.spec.drift}")) as {
      type: string;
      subject: string;
      observed: string;
      evidence: {
        containers: {
          pod: string;
          name: string;
          restartCount: number;
          exitCode: number;
          state: string;
          logs: string[];
        }[];
      };
    }[];
    assert.deepEqual(
      drift.map((d) => [d.type, d.subject]),
      [["PodCrashLooping", "pod/web-2"]],
    );
    assert.match(
      drift[0]?.observed ?? "",
      /CrashLoopBackOff: container main, 5 restarts, last terminated Error \(exit code 3\)/,
    );
    const [container] = drift[0]?.evidence.containers ?? [];
    assert.equal(container?.pod, "web-2");
    assert.equal(container?.restartCount, 5);
    assert.equal(container?.exitCode, 3);
    assert.equal(container?.state, "waiting (CrashLoopBackOff)");
    // No kubelet serves logs here: the evidence says so rather than failing to open.
    assert.match(container?.logs.join("\n") ?? "", /could not read logs/);
  });
});

describe("the agent on a Kubernetes target: kube_* tools, approval by kubectl annotate, verified", () => {
  const namespace = `steward-ka-${randomBytes(3).toString("hex")}`;
  let state: string;
  let steward: StewardProcess;
  let fake: FakeMessagesServer;
  let owner: Owner;
  const seen: RecordedRequest[] = [];

  before(async () => {
    await cluster();
    fake = new FakeMessagesServer([
      (request) => {
        seen.push(request);
        return { content: [toolUse("kube_get", { kind: "pods" }, "toolu_get")], stop_reason: "tool_use", usage };
      },
      (request) => {
        seen.push(request);
        return {
          content: [toolUse("kube_scale", { workload: "deployment/other", replicas: 0 }, "toolu_foreign")],
          stop_reason: "tool_use",
          usage,
        };
      },
      (request) => {
        seen.push(request);
        return {
          content: [toolUse("kube_delete_pod", { pod: "web-2" }, "toolu_delete")],
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
    steward = new StewardProcess(
      state,
      ["--targets", "kubernetes", "--verify-timeout", "10s", "--watch-namespace", namespace],
      {
        STEWARD_STORE: "kubernetes",
        ANTHROPIC_API_KEY: "test-key-not-secret",
        ANTHROPIC_BASE_URL: baseURL,
      },
    );
    await steward.start();
    owner = await setup(state, namespace, "approve");
  });

  after(async () => {
    await cleanup(namespace);
    await steward.stop();
    await fake.close();
  });

  it("reads pods, is refused a foreign workload, waits for approval to delete the pod, and is verified", async () => {
    await kubectlOk(
      "patch",
      "pod",
      "web-2",
      "-n",
      namespace,
      "--subresource=status",
      "--type=merge",
      "-p",
      podStatus("crashloop"),
    );
    const name = await waitFor(
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
        return /^(\S+) AwaitingApproval$/m.exec(out)?.[1];
      },
      30_000,
      "a remediation awaiting approval of the pod deletion",
    ).catch((err: unknown) => {
      console.error(
        steward.logs
          .filter((l) => /warn|error|remediation|agent/i.test(l))
          .slice(-30)
          .join("\n"),
      );
      throw err;
    });
    // kube_get answered from the namespace's cache; the foreign scale was denied by the target rule.
    const results = seen.flatMap((r) => lastToolResults(r));
    assert.match(
      results.find((r) => r.toolUseId === "toolu_get")?.text ?? "",
      /web-2\s+Running\s+not-ready\s+main:waiting\(CrashLoopBackOff\) restarts=5 last=Error\(exit 3\)/,
    );
    const foreign = results.find((r) => r.toolUseId === "toolu_foreign");
    assert.equal(foreign?.isError, true);
    assert.match(foreign?.text ?? "", /"deployment\/other" is not one of this DesiredState's own/);
    assert.equal((await kubectl("get", "pod", "web-2", "-n", namespace)).code, 0, "nothing is deleted before approval");
    const pending = await kubectlOk(
      "get",
      "rem",
      name,
      "-n",
      namespace,
      "-o",
      "jsonpath={.status.pendingApproval[0].command}",
    );
    assert.match(pending, /"kubectl","delete","pod","web-2"/);

    await kubectlOk(
      "annotate",
      "remediation",
      name,
      "-n",
      namespace,
      "steward.dev/approve=toolu_delete",
      "steward.dev/approved-by=dana",
    );
    await waitFor(
      async () =>
        (await kubectl("get", "pod", "web-2", "-n", namespace, "-o", "jsonpath={.metadata.deletionTimestamp}"))
          .stdout !== "",
      20_000,
      "web-2 deleted after approval",
    );
    // The kubelet would confirm the termination and the ReplicaSet controller create a replacement; the test plays both.
    await kubectlOk("delete", "pod", "web-2", "-n", namespace, "--grace-period=0", "--force");
    await createPod(state, { namespace, name: "web-3", labels: { app: "web" }, owner, state: "ready" });
    await waitFor(
      async () =>
        (await kubectl("get", "rem", name, "-n", namespace, "-o", "jsonpath={.status.phase}")).stdout === "Resolved",
      30_000,
      "Resolved after verification",
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
    assert.match(actions, /^kube_scale deny\s*$/m);
    assert.match(actions, /^kube_delete_pod ask dana$/m);
    assert.match(JSON.stringify(seen[0]?.body?.system), /kube_get, kube_events, kube_logs/);
    const described = await waitFor(
      async () => {
        const out = (await kubectl("describe", "remediation", name, "-n", namespace)).stdout;
        return /Resolved/.test(out.split("Events:")[1] ?? "") ? out : undefined;
      },
      10_000,
      "each step as an Event in kubectl describe",
    );
    assert.match(described, /Warning\s+ActionDenied\s[\s\S]*kubectl scale deployment\/other --replicas=0: denied/);
    assert.match(described, /Normal\s+ActionExecuted\s[\s\S]*kubectl delete pod web-2: ran \(approved by dana\)/);
  });
});
