import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { containerState, docker, ensureCluster } from "../../scripts/lib/cluster.js";
import { etcdDesiredState, writeManifest } from "../support/desired-states.js";
import { emptyNamespace } from "../support/kube.js";
import { kubectl } from "../support/kubectl.js";
import { FakeMessagesServer, toolUse } from "../support/fake-anthropic.js";
import { StewardProcess, tempStateDir } from "../support/steward.js";
import { waitFor } from "../../scripts/lib/wait.js";

describe("steward run --store kubernetes, out of cluster, on a real kube-apiserver", () => {
  let state: string;
  let steward: StewardProcess;

  before(async () => {
    await emptyNamespace();
    await ensureCluster();
    state = await tempStateDir();
    steward = new StewardProcess(state, ["--watch-namespace", "default"], { STEWARD_STORE: "kubernetes" });
    await steward.start();
  });

  after(async () => {
    assert.equal(await steward.stop(), 0);
    await ensureCluster();
  });

  it("rejects an invalid DesiredState at the API server with the field and the expectation", async () => {
    const bad = etcdDesiredState({
      name: "bad",
      invariants: '    - {name: q, query: up, condition: "== 3", for: soon}',
    });
    const result = await kubectl("apply", "-f", await writeManifest(state, "bad.yaml", bad));
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /spec\.invariants\[0\]\.for/);
  });

  it("kubectl apply of a DesiredState; a stopped member is fixed and kubectl get shows it Ready", async () => {
    const applied = await kubectl("apply", "-f", await writeManifest(state, "etcd.yaml", etcdDesiredState()));
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /desiredstate.steward.dev\/etcd created/);
    await waitFor(
      async () => /^etcd\s+True\s/m.test((await kubectl("get", "desiredstates")).stdout),
      30_000,
      "etcd Ready in kubectl get desiredstates",
    );
    await docker("stop", "-t", "1", "etcd1");
    await waitFor(async () => (await containerState("etcd1")) === "running", 20_000, "etcd1 started again");
    const fixes = await waitFor(
      async () => {
        const out = (await kubectl("get", "desiredstate", "etcd", "-o", "jsonpath={.status.fixes[*].subject}")).stdout;
        return out.includes("container/etcd1") ? out : undefined;
      },
      20_000,
      "the fix in the status subresource",
    );
    assert.match(fixes, /container\/etcd1/);
    const described = await waitFor(
      async () => {
        const out = (await kubectl("describe", "desiredstate", "etcd")).stdout;
        return /SimpleFixApplied/.test(out) ? out : undefined;
      },
      10_000,
      "the fix as an Event in kubectl describe",
    );
    assert.match(described, /Events:[\s\S]*Normal\s+SimpleFixApplied[\s\S]*started etcd1/);
  });

  it("a removed member opens an AgentRemediation that kubectl get remediations lists with its columns", async () => {
    await docker("rm", "-f", "etcd2");
    const table = await waitFor(
      async () => {
        const out = (await kubectl("get", "remediations")).stdout;
        return /NoModelConfigured/.test(out) ? out : undefined;
      },
      20_000,
      "a remediation in kubectl get remediations",
    );
    assert.match(
      table,
      /^NAME\s+TARGET\s+PHASE\s+REASON\s+ATTEMPTS\s+TOKENS\s+AGE\n\S+\s+etcd\s+Pending\s+NoModelConfigured\s/,
    );
    assert.equal((await kubectl("get", "rem", "-o", "name")).stdout.trim().split("\n").length, 1);
    assert.match((await kubectl("get", "steward")).stdout, /desiredstate.steward.dev\/etcd/);
  });
});

describe("approval by kubectl annotate, with a scripted model", () => {
  let state: string;
  let steward: StewardProcess;
  let fake: FakeMessagesServer;
  const usage = { input_tokens: 100, output_tokens: 10, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };

  before(async () => {
    await emptyNamespace();
    await ensureCluster();
    fake = new FakeMessagesServer([
      { content: [toolUse("docker_start", { container: "etcd1" }, "toolu_k8s1")], stop_reason: "tool_use", usage },
      { content: [toolUse("resolve", { summary: "started etcd1" })], stop_reason: "tool_use", usage },
    ]);
    const baseURL = await fake.start();
    state = await tempStateDir();
    steward = new StewardProcess(state, ["--verify-timeout", "3s", "--watch-namespace", "default"], {
      STEWARD_STORE: "kubernetes",
      ANTHROPIC_API_KEY: "test-key-not-secret",
      ANTHROPIC_BASE_URL: baseURL,
    });
    await steward.start();
  });

  after(async () => {
    await steward.stop();
    await fake.close();
    await ensureCluster();
  });

  it("the start waits in AwaitingApproval; kubectl annotate approves it; Resolved", async () => {
    const manifest = etcdDesiredState({
      name: "etcd-agent",
      simpleFixes: [],
      agent: { mode: "approve" },
      cooldown: "0s",
    });
    assert.equal((await kubectl("apply", "-f", await writeManifest(state, "agent.yaml", manifest))).code, 0);
    await waitFor(
      async () => /^etcd-agent\s+True\s/m.test((await kubectl("get", "desiredstates")).stdout),
      30_000,
      "etcd-agent Ready",
    );
    await docker("stop", "-t", "1", "etcd1");
    const name = await waitFor(
      async () => {
        const out = (
          await kubectl("get", "rem", "-o", 'jsonpath={range .items[*]}{.metadata.name} {.status.phase}{"\\n"}{end}')
        ).stdout;
        return /^(\S+) AwaitingApproval$/m.exec(out)?.[1];
      },
      30_000,
      "a remediation awaiting approval",
    );
    assert.equal(await containerState("etcd1"), "exited");
    const annotated = await kubectl(
      "annotate",
      "remediation",
      name,
      "steward.dev/approve=toolu_k8s1",
      "steward.dev/approved-by=carol",
    );
    assert.equal(annotated.code, 0, annotated.stderr);
    await waitFor(
      async () => (await kubectl("get", "rem", name, "-o", "jsonpath={.status.phase}")).stdout === "Resolved",
      30_000,
      "Resolved after the annotation",
    );
    assert.equal(await containerState("etcd1"), "running");
    assert.equal((await kubectl("get", "rem", name, "-o", "jsonpath={.status.actions[0].approver}")).stdout, "carol");
    const described = await waitFor(
      async () => {
        const out = (await kubectl("describe", "remediation", name)).stdout;
        return /Resolved/.test(out.split("Events:")[1] ?? "") ? out : undefined;
      },
      10_000,
      "phase changes as Events in kubectl describe",
    );
    assert.match(described, /Events:[\s\S]*Opened[\s\S]*AwaitingApproval[\s\S]*Resolved/);
  });
});
