/**
 * Alert intake and notifications on the etcd compose cluster, through a real Prometheus
 * (rule file, 1 s scrape and evaluation) and a real Alertmanager (group_wait 0s) posting to
 * Steward's webhook receiver; a NotificationPolicy sends every transition to a webhook
 * receiver on 127.0.0.1. Each run stops etcd1 with simple fixes off: the rule fires after
 * its `for: 2s`, Alertmanager posts, a remediation opens, the scripted agent starts etcd1,
 * and the fix is verified against Alertmanager.
 *
 * Rows: alert → remediation (detect: the rule firing, i.e. the alert's startsAt, which
 * Prometheus sets to when the alert fired, after its `for:`, to the remediation's openedAt;
 * recover: the stop to Resolved) and notification
 * delivery (detect: a transition written to the sink receiving it; recover: to the
 * acknowledgement recorded in the status).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { docker as dockerCli, ensureCluster } from "../../scripts/lib/cluster.js";
import { waitFor } from "../../scripts/lib/wait.js";
import type { AgentRemediation } from "../../src/api/remediation.js";
import { deliveryLedger } from "../../src/api/notifications.js";
import { AlertingStack, etcdRules, freePort } from "../../test/support/alerting.js";
import { writeManifest } from "../../test/support/desired-states.js";
import { FakeMessagesServer, toolUse } from "../../test/support/fake-anthropic.js";
import { HttpReceiver } from "../../test/support/receiver.js";
import { listRemediations } from "../../test/support/status.js";
import { cli, tempStateDir } from "../../test/support/steward.js";
import { summarize } from "../lib/stats.js";
import { BenchSteward } from "../lib/steward.js";
import type { FaultOptions, FaultResult } from "./faults.js";

const MEMBER = "etcd1";
const RULE_FOR_MS = 2_000;
const TOKEN = "bench-alert-token";

const MANIFESTS = (hookFile: string): string[] => [
  `apiVersion: steward.dev/v1alpha1
kind: RemediationPolicy
metadata: {name: bench}
spec:
  rules:
    - {decision: allow, command: "docker start *"}
`,
  `apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: etcd}
spec:
  target: {docker: {project: etcd}}
  alerts:
    - {alertname: EtcdMemberDown, matchers: ['job="etcd"']}
  remediation: {simpleFixes: [], agent: {mode: auto, policyRef: bench, maxAttempts: 1}, cooldown: 0s}
`,
  `apiVersion: steward.dev/v1alpha1
kind: NotificationPolicy
metadata: {name: bench}
spec:
  sinks:
    - {name: hook, webhook: {url: {file: ${hookFile}}}}
`,
];

interface AlertRun {
  remediation: AgentRemediation;
  stoppedAt: number;
}

export async function alertRows(options: FaultOptions): Promise<FaultResult[]> {
  await ensureCluster();
  const state = await tempStateDir();
  const receiver = new HttpReceiver([{ status: 200 }]);
  await writeFile(join(state, "hook-url"), `${await receiver.start()}/steward`);
  await writeFile(join(state, "token"), TOKEN);
  await mkdir(join(state, "runbooks"));
  const alertsPort = await freePort();
  const stack = new AlertingStack({
    receiverUrl: `http://127.0.0.1:${alertsPort}/alerts`,
    tokenFile: join(state, "token"),
    rules: etcdRules({ runbookUrl: "https://wiki.example.com/etcd", forSeconds: RULE_FOR_MS / 1000 }),
  });
  const fake = new FakeMessagesServer();
  let steward: BenchSteward | undefined;
  try {
    await stack.start();
    steward = new BenchSteward({
      stateDir: state,
      prometheusUrl: stack.prometheusUrl,
      env: { ANTHROPIC_API_KEY: "bench-key-not-secret", ANTHROPIC_BASE_URL: await fake.start() },
      extraArgs: [
        "--alerts-addr",
        `127.0.0.1:${alertsPort}`,
        "--alerts-token-file",
        join(state, "token"),
        "--alertmanager-url",
        stack.alertmanagerUrl,
        "--verify-timeout",
        "30s",
      ],
    });
    await steward.start();
    const files = await Promise.all(
      MANIFESTS(join(state, "hook-url")).map((m, i) => writeManifest(state, `a${i}.yaml`, m)),
    );
    const applied = await cli(state, "apply", ...files.flatMap((f) => ["-f", f]));
    if (applied.code !== 0) throw new Error(`apply failed: ${applied.stderr}`);
    const runs: AlertRun[] = [];
    for (let i = 0; i < options.runs; i++) {
      runs.push(await oneRun(state, fake, runs.length));
      options.log(`  alert → remediation run ${i + 1}: ${runs.at(-1)?.remediation.status?.phase}`);
    }
    return [alertRow(runs), await deliveryRow(state, receiver)];
  } finally {
    await steward?.stop();
    await stack.stop();
    await fake.close();
    await receiver.stop();
    await ensureCluster();
  }
}

async function oneRun(state: string, fake: FakeMessagesServer, before: number): Promise<AlertRun> {
  await ensureCluster();
  fake.enqueue(
    { content: [toolUse("docker_start", { container: MEMBER })], stop_reason: "tool_use" },
    { content: [toolUse("resolve", { summary: "started etcd1" })], stop_reason: "tool_use" },
  );
  const stoppedAt = Date.now();
  await dockerCli("stop", "-t", "1", MEMBER);
  const remediation = await waitFor(
    async () => {
      const closed = (await listRemediations(state)).filter((r) =>
        ["Resolved", "Escalated"].includes(r.status?.phase ?? ""),
      );
      return closed.length > before
        ? closed.sort((a, b) => (a.status?.openedAt ?? "").localeCompare(b.status?.openedAt ?? "")).at(-1)
        : undefined;
    },
    120_000,
    "the alert's remediation to close",
  );
  return { remediation, stoppedAt };
}

function alertRow(runs: readonly AlertRun[]): FaultResult {
  const detect = runs.map(({ remediation }) => {
    const startsAt = Date.parse(remediation.spec.drift[0]?.evidence.alert?.startsAt ?? "");
    return Date.parse(remediation.status?.openedAt ?? "") - startsAt;
  });
  const resolved = runs.filter((r) => r.remediation.status?.phase === "Resolved");
  return {
    scenario: "alert → remediation",
    fault: `docker stop ${MEMBER}; rule up == 0 for 2s; Alertmanager webhook`,
    actor: "Steward",
    runs: runs.length,
    detectMs: summarize(detect),
    recoverMs: summarize(resolved.map((r) => Date.parse(r.remediation.status?.verifiedAt ?? "") - r.stoppedAt)),
    path: "agent",
    agentSteps: 2,
    tokens: resolved.reduce(
      (n, r) => n + (r.remediation.status?.usage?.inputTokens ?? 0) + (r.remediation.status?.usage?.outputTokens ?? 0),
      0,
    ),
    costUSD: resolved.reduce((n, r) => n + (r.remediation.status?.usage?.estimatedCostUSD ?? 0), 0),
    outcome: `${resolved.length}/${runs.length} Resolved (verified against Alertmanager)`,
    model: "scripted",
  };
}

/** Every notification of the runs: transition written → the sink received it → its acknowledgement recorded. */
async function deliveryRow(state: string, receiver: HttpReceiver): Promise<FaultResult> {
  const remediations = await waitFor(
    async () => {
      const all = await listRemediations(state);
      const settled = all.every((r) => {
        const ledger = deliveryLedger(r);
        return (r.status?.notifications ?? []).every(
          (n) => ledger[n.id] !== undefined && Object.values(ledger[n.id] ?? {}).every((d) => d.state !== "Pending"),
        );
      });
      return settled ? all : undefined;
    },
    30_000,
    "every notification delivered",
  );
  const received = new Map(receiver.requests.map((r) => [String(r.headers["idempotency-key"]), r.at]));
  const toSink: number[] = [];
  const toAck: number[] = [];
  for (const r of remediations) {
    const ledger = deliveryLedger(r);
    for (const n of r.status?.notifications ?? []) {
      const at = Date.parse(n.at);
      const got = received.get(`${r.metadata.uid}/${n.id}`);
      const acked = Object.values(ledger[n.id] ?? {}).find((d) => d.state === "Delivered")?.deliveredAt;
      if (got !== undefined) toSink.push(got - at);
      if (acked) toAck.push(Date.parse(acked) - at);
    }
  }
  return {
    scenario: "notification delivery",
    fault: "each transition of the alert runs, to a webhook on 127.0.0.1",
    actor: "Steward",
    runs: toSink.length,
    detectMs: summarize(toSink),
    recoverMs: summarize(toAck),
    path: "none",
    agentSteps: 0,
    tokens: 0,
    costUSD: 0,
    outcome: `${toSink.length} delivered, ${receiver.requests.length} requests (detect: sink received it; recover: acknowledgement recorded)`,
  };
}
