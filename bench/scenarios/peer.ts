/**
 * The peer baseline for the metric-only fault: how agents such as HolmesGPT, Robusta and
 * Kubernaut are triggered — a Prometheus alerting rule with a `for:`, routed through
 * Alertmanager (its `group_wait`) to a webhook — against Steward's own invariant, on the
 * same fault at the same moment, with the same scrape interval.
 *
 * etcd1 is frozen (SIGSTOP: Docker still says "running"). Steward evaluates
 * `count(up{job="etcd"} == 1) == 3` every 15 s with `for: 5s` (the frozen-member scenario's
 * invariant) on the demo Prometheus; a second Prometheus scrapes the same members at the
 * same 1 s interval and evaluates the same expression every 15 s as two alerting rules —
 * `for: 1m` (a typical rule) and `for: 5s` (Steward's window, so the rest is the pipeline's
 * own delay) — sending to an Alertmanager (Debian's prometheus-alertmanager) with its
 * default `group_wait: 30s`, whose webhook is a server in the bench. The signal is Steward's
 * `drift detected` line, and each alert's webhook delivery.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureCluster, PROMETHEUS_URL } from "../../scripts/lib/cluster.js";
import { waitFor } from "../../scripts/lib/wait.js";
import { etcdDesiredState, writeManifest } from "../../test/support/desired-states.js";
import { cli, tempStateDir } from "../../test/support/steward.js";
import { signalMain } from "../lib/docker.js";
import { freePort, startPrometheus } from "../lib/prometheus.js";
import { BenchSteward } from "../lib/steward.js";

export const ALERTMANAGER_BIN = "/usr/bin/prometheus-alertmanager";
const MEMBER = "etcd1";
/** As docker/prometheus/prometheus.yml scrapes the members for Steward. */
const SCRAPE_INTERVAL = "1s";
const EVALUATION_INTERVAL = "15s";
const GROUP_WAIT = "30s";
const TYPICAL_FOR = "1m";
const STEWARD_FOR = "5s";
const EXPR = 'count(up{job="etcd"} == 1) < 3';

export interface PeerResult {
  /** Fault → first signal, ms. */
  steward: number;
  ruleTypicalFor: number;
  ruleSameFor: number;
  settings: string;
}

const RULES = `groups:
  - name: etcd
    interval: ${EVALUATION_INTERVAL}
    rules:
      - alert: EtcdMemberDownTypicalFor
        expr: '${EXPR}'
        for: ${TYPICAL_FOR}
      - alert: EtcdMemberDownStewardFor
        expr: '${EXPR}'
        for: ${STEWARD_FOR}
`;

function prometheusConfig(alertmanagerPort: number): (port: number) => string {
  return (
    port,
  ) => `global: {scrape_interval: ${SCRAPE_INTERVAL}, scrape_timeout: ${SCRAPE_INTERVAL}, evaluation_interval: ${EVALUATION_INTERVAL}}
rule_files: [/etc/prometheus/rules.yml]
alerting:
  alertmanagers: [{static_configs: [{targets: ['127.0.0.1:${alertmanagerPort}']}]}]
scrape_configs:
  - job_name: bench
    static_configs: [{targets: ['127.0.0.1:${port}']}]
  - job_name: etcd
    static_configs: [{targets: ['127.0.0.1:12379', '127.0.0.1:22379', '127.0.0.1:32379']}]
`;
}

/** Alertmanager on loopback, gossip off, its webhook pointing at `webhookPort`. */
async function startAlertmanager(webhookPort: number): Promise<{ port: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "steward-bench-am-"));
  await writeFile(
    join(dir, "alertmanager.yml"),
    `route: {receiver: bench, group_by: [alertname], group_wait: ${GROUP_WAIT}, group_interval: 5m, repeat_interval: 4h}
receivers:
  - name: bench
    webhook_configs: [{url: 'http://127.0.0.1:${webhookPort}/alert', send_resolved: false}]
`,
  );
  const child: ChildProcess = spawn(
    ALERTMANAGER_BIN,
    [
      `--config.file=${join(dir, "alertmanager.yml")}`,
      `--storage.path=${dir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--cluster.listen-address=",
    ],
    { stdio: "ignore" },
  );
  await waitFor(
    async () => (await fetch(`http://127.0.0.1:${port}/-/ready`).catch(() => undefined))?.ok,
    30_000,
    "Alertmanager ready",
  );
  return {
    port,
    stop: async () => {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** A webhook receiver: when each alert name was first delivered. */
async function startWebhook(): Promise<{ port: number; delivered: Map<string, number>; server: Server }> {
  const delivered = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const at = Date.now();
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          alerts?: { labels?: { alertname?: string } }[];
        };
        for (const alert of body.alerts ?? []) {
          const name = alert.labels?.alertname;
          if (name && !delivered.has(name)) delivered.set(name, at);
        }
      } catch {
        // not an Alertmanager notification: ignored
      }
      res.writeHead(200).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve()));
  return { port, delivered, server };
}

export async function peerBaseline(options: { runId: string; log: (line: string) => void }): Promise<PeerResult> {
  await ensureCluster();
  const webhook = await startWebhook();
  const alertmanager = await startAlertmanager(webhook.port);
  const prometheus = await startPrometheus(options.runId, {
    name: "peer",
    config: prometheusConfig(alertmanager.port),
    files: { "rules.yml": RULES },
  });
  const state = await tempStateDir();
  const steward = new BenchSteward({ stateDir: state, prometheusUrl: PROMETHEUS_URL });
  try {
    await steward.start();
    const manifest = etcdDesiredState({
      interval: "15s",
      invariants: `    - name: all-members-up
      query: count(up{job="etcd"} == 1)
      condition: "== 3"
      for: ${STEWARD_FOR}
`,
      agent: { mode: "observe" },
    });
    const applied = await cli(state, "apply", "-f", await writeManifest(state, "ds.yaml", manifest));
    if (applied.code !== 0) throw new Error(`apply failed: ${applied.stderr}`);
    await waitFor(
      async () => (await cli(state, "get", "ds", "etcd", "-o", "json")).stdout.includes('"AsDeclared"'),
      60_000,
      "etcd Ready",
    );
    // Both Prometheus evaluate every 15 s: a rule group has had a first evaluation before the fault.
    await new Promise((resolve) => setTimeout(resolve, 16_000));
    const frozenAt = Date.now();
    await signalMain(MEMBER, "SIGSTOP");
    options.log(`  peer baseline: ${MEMBER} frozen; waiting for Steward and both alerts (about 2 minutes)`);
    const stewardAt = await waitFor(
      () => steward.detectedAt("invariant/all-members-up", frozenAt),
      120_000,
      "Steward's invariant",
    );
    await waitFor(
      () => webhook.delivered.has("EtcdMemberDownTypicalFor") && webhook.delivered.has("EtcdMemberDownStewardFor"),
      240_000,
      "both alerts delivered by Alertmanager",
    );
    return {
      steward: stewardAt - frozenAt,
      ruleTypicalFor: (webhook.delivered.get("EtcdMemberDownTypicalFor") ?? Number.NaN) - frozenAt,
      ruleSameFor: (webhook.delivered.get("EtcdMemberDownStewardFor") ?? Number.NaN) - frozenAt,
      settings: `scrape ${SCRAPE_INTERVAL}; Steward: interval 15s, for ${STEWARD_FOR}; rules: evaluation ${EVALUATION_INTERVAL}, for ${TYPICAL_FOR} (typical) and ${STEWARD_FOR}; Alertmanager group_wait ${GROUP_WAIT}`,
    };
  } finally {
    await signalMain(MEMBER, "SIGCONT").catch(() => undefined);
    await steward.stop();
    await prometheus.stop();
    await alertmanager.stop();
    webhook.server.closeAllConnections();
    await new Promise((resolve) => webhook.server.close(resolve));
    await ensureCluster();
  }
}
