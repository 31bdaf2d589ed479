import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { containerState, docker, ensureCluster } from "../../scripts/lib/cluster.js";
import { waitFor } from "../../scripts/lib/wait.js";
import { AlertStatus } from "../../src/observe/alerts/status.js";
import { AlertmanagerClient } from "../../src/observe/alerts/alertmanager.js";
import { HttpPrometheusClient } from "../../src/observe/prometheus.js";
import type { AgentRemediation } from "../../src/api/remediation.js";
import { POLICY_AUTO_START } from "../support/agent-scenario.js";
import { AlertingStack, etcdRules, freePort } from "../support/alerting.js";
import { FakeMessagesServer, lastToolResults, toolUse } from "../support/fake-anthropic.js";
import { metric } from "../support/metrics.js";
import { listRemediations } from "../support/status.js";
import { cli, StewardProcess, tempStateDir } from "../support/steward.js";
import { writeManifest } from "../support/desired-states.js";

const TOKEN = "am-to-steward-9c1e";

/** Alerts only: no service is declared, so the stopped member is drift only through the alert. */
const DESIRED_STATE = `apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: etcd-alerts}
spec:
  target: {docker: {project: etcd}}
  interval: 2s
  alerts:
    - {alertname: EtcdMemberDown, matchers: ['job="etcd"']}
  remediation:
    simpleFixes: []
    agent: {mode: auto, policyRef: test, maxAttempts: 1}
    cooldown: 0s
`;

describe("alerts from a real Alertmanager become remediations, and a verified fix closes them", () => {
  let state = "";
  let stack: AlertingStack;
  let steward: StewardProcess;
  let alertsPort = 0;
  const fake = new FakeMessagesServer();
  const runbook = "Start the stopped member: docker start <member>. Do not remove its volume.";

  before(async () => {
    await ensureCluster();
    state = await tempStateDir();
    const tokenFile = join(state, "alerts-token");
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    await mkdir(join(state, "runbooks"));
    await writeFile(join(state, "runbooks", "etcd-member-down.md"), runbook);
    alertsPort = await freePort();
    stack = new AlertingStack({
      receiverUrl: `http://127.0.0.1:${alertsPort}/alerts`,
      tokenFile,
      rules: etcdRules({ runbookUrl: join(state, "runbooks", "etcd-member-down.md") }),
    });
    await stack.start();
    const baseURL = await fake.start();
    const applied = await cli(
      state,
      "apply",
      "-f",
      await writeManifest(state, "policy.yaml", POLICY_AUTO_START),
      "-f",
      await writeManifest(state, "ds.yaml", DESIRED_STATE),
    );
    assert.equal(applied.code, 0, applied.stderr);
    steward = new StewardProcess(
      state,
      [
        "--prometheus-url",
        stack.prometheusUrl,
        "--alerts-addr",
        `127.0.0.1:${alertsPort}`,
        "--alerts-token-file",
        tokenFile,
        "--alertmanager-url",
        stack.alertmanagerUrl,
        "--runbook-dir",
        join(state, "runbooks"),
        "--verify-timeout",
        "30s",
      ],
      { ANTHROPIC_API_KEY: "test-key-not-secret", ANTHROPIC_BASE_URL: baseURL },
    );
    await steward.start();
  });

  after(async () => {
    await steward?.stop();
    await stack?.stop();
    await fake.close();
    await ensureCluster();
  });

  it("an alert no DesiredState declares is counted, not acted on; Alertmanager and Prometheus both say it fires", async () => {
    await waitFor(
      async () => ((await metric(steward, "steward_alerts_unmatched_total")) ?? 0) >= 1,
      30_000,
      "NobodysAlert counted",
    );
    assert.deepEqual(await listRemediations(state), []);
    const held = (await stack.alertmanagerAlerts()).find((a) => a.labels.alertname === "NobodysAlert");
    assert.ok(held);
    const signal = AbortSignal.timeout(10_000);
    const viaAlertmanager = new AlertStatus({ alertmanager: new AlertmanagerClient(stack.alertmanagerUrl, false) });
    const viaPrometheus = new AlertStatus({ prometheus: new HttpPrometheusClient({ baseUrl: stack.prometheusUrl }) });
    assert.equal(
      await viaAlertmanager.stillFiring({ fingerprint: held.fingerprint, labels: held.labels }, signal),
      true,
    );
    assert.equal(await viaPrometheus.stillFiring({ fingerprint: held.fingerprint, labels: held.labels }, signal), true);
  });

  it("etcd1 stopped → the rule fires → Alertmanager posts → a remediation opens with the alert as evidence → the agent's start is verified against Alertmanager → Resolved", async () => {
    fake.enqueue(
      (request) => {
        const incident = JSON.stringify(request.body?.messages[0]);
        assert.match(incident, /EtcdMemberDown/);
        assert.match(incident, /etcd member 127\.0\.0\.1:22379 is down/);
        assert.ok(
          incident.includes("Start the stopped member: docker start <member>"),
          "the runbook reached the model",
        );
        return { content: [toolUse("docker_start", { container: "etcd1" })], stop_reason: "tool_use" };
      },
      (request) => {
        assert.equal(lastToolResults(request)[0]?.isError, false, lastToolResults(request)[0]?.text);
        return {
          content: [toolUse("resolve", { summary: "etcd1 was stopped; started it." })],
          stop_reason: "tool_use",
        };
      },
    );
    await docker("stop", "-t", "1", "etcd1");
    const opened = await waitFor(
      async () => (await listRemediations(state)).find((r) => r.spec.drift[0]?.type === "AlertFiring"),
      60_000,
      "a remediation for the firing alert",
    );
    checkEvidence(opened);

    const labels = opened.spec.drift[0]?.evidence.alert?.labels ?? {};
    const fingerprint = opened.spec.drift[0]?.evidence.alert?.fingerprint ?? "";
    const viaAlertmanager = new AlertStatus({ alertmanager: new AlertmanagerClient(stack.alertmanagerUrl, false) });
    const viaPrometheus = new AlertStatus({ prometheus: new HttpPrometheusClient({ baseUrl: stack.prometheusUrl }) });
    const signal = AbortSignal.timeout(10_000);

    let last: AgentRemediation | undefined;
    const resolved = await waitFor(
      async () => {
        [last] = await listRemediations(state);
        return last && ["Resolved", "Escalated", "Failed"].includes(last.status?.phase ?? "") ? last : undefined;
      },
      90_000,
      "the remediation to close",
    ).catch((err: unknown) => {
      const status = `${last?.status?.phase}/${last?.status?.reason}: ${last?.status?.message}`;
      throw new Error(`${String(err)}; it is ${status}; model requests ${fake.requests.length}`, { cause: err });
    });
    assert.equal(resolved.status?.phase, "Resolved", resolved.status?.message);
    assert.ok(resolved.status?.verifiedAt);
    assert.equal(await containerState("etcd1"), "running");
    assert.deepEqual(
      resolved.status?.actions.map((a) => [a.command.join(" "), a.decision, a.exitCode]),
      [["docker start etcd1", "allow", 0]],
    );
    // Verified: the alert no longer fires, by either source.
    assert.equal(await viaAlertmanager.stillFiring({ fingerprint, labels }, signal), false);
    assert.equal(await viaPrometheus.stillFiring({ fingerprint, labels }, signal), false);
    // And Alertmanager's resolved notification reached the receiver.
    await waitFor(
      async () => ((await metric(steward, "steward_alerts_received_total", '{status="resolved"}')) ?? 0) >= 1,
      30_000,
      "a resolved notification",
    );
    assert.equal(fake.remaining, 0);
  });

  it("the receiver refuses Alertmanager's payload without the token", async () => {
    const response = await fetch(`http://127.0.0.1:${alertsPort}/alerts`, { method: "POST", body: "{}" });
    assert.equal(response.status, 401);
  });
});

function checkEvidence(opened: AgentRemediation): void {
  const drift = opened.spec.drift[0];
  assert.equal(drift?.type, "AlertFiring");
  assert.match(drift?.subject ?? "", /^alert\/[0-9a-f]+$/);
  const alert = drift?.evidence.alert;
  assert.equal(alert?.alertname, "EtcdMemberDown");
  assert.equal(alert?.labels.instance, "127.0.0.1:22379");
  assert.equal(alert?.labels.job, "etcd");
  assert.equal(alert?.annotations.summary, "etcd member 127.0.0.1:22379 is down");
  assert.match(alert?.annotations.runbook_url ?? "", /runbooks\/etcd-member-down\.md$/);
  assert.match(alert?.generatorURL ?? "", /^http:\/\/.*\/graph\?g0\.expr=/);
  assert.ok(!Number.isNaN(Date.parse(alert?.startsAt ?? "")));
  assert.equal(opened.spec.severity, "critical", "the alert's own severity label");
}
