/**
 * A real alerting pipeline for tests and the bench: Debian's Prometheus (`/usr/bin/prometheus`)
 * with a rule file, scraping the etcd compose cluster every second, and Debian's Alertmanager
 * (`prometheus-alertmanager`, installed by scripts/engines.sh) routing every alert to
 * Steward's webhook receiver with a bearer token. Both run as host processes on free ports
 * of 127.0.0.1 with their data in a temporary directory (Alertmanager's clustering off),
 * and are stopped by `stop()`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "../../scripts/lib/wait.js";
import { collectLines } from "./steward.js";

export const ALERTMANAGER_BINARY = "prometheus-alertmanager";

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no free port");
  return address.port;
}

/** The rules the tests fire: a member down, and an alert no DesiredState declares. */
export function etcdRules(options: { runbookUrl: string; forSeconds?: number }): string {
  return `groups:
  - name: etcd
    rules:
      - alert: EtcdMemberDown
        expr: up{job="etcd"} == 0
        for: ${options.forSeconds ?? 2}s
        labels: {severity: critical}
        annotations:
          summary: "etcd member {{ $labels.instance }} is down"
          description: "Prometheus cannot scrape {{ $labels.instance }}: the member stopped or hangs."
          runbook_url: "${options.runbookUrl}"
      - alert: NobodysAlert
        expr: vector(1)
        labels: {severity: info}
        annotations: {summary: "an alert no DesiredState declares"}
`;
}

export interface AlertingOptions {
  /** Steward's webhook receiver, which Alertmanager posts to. */
  receiverUrl: string;
  tokenFile: string;
  rules: string;
}

export class AlertingStack {
  readonly logs: string[] = [];
  prometheusUrl = "";
  alertmanagerUrl = "";
  private readonly children: ChildProcess[] = [];

  constructor(private readonly options: AlertingOptions) {}

  async start(): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), "steward-alerting-"));
    const [promPort, amPort] = [await freePort(), await freePort()];
    this.prometheusUrl = `http://127.0.0.1:${promPort}`;
    this.alertmanagerUrl = `http://127.0.0.1:${amPort}`;
    await writeFile(join(dir, "rules.yml"), this.options.rules);
    await writeFile(
      join(dir, "prometheus.yml"),
      `global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
rule_files: [${join(dir, "rules.yml")}]
alerting:
  alertmanagers: [{static_configs: [{targets: ["127.0.0.1:${amPort}"]}]}]
scrape_configs:
  - job_name: etcd
    static_configs: [{targets: ["127.0.0.1:12379", "127.0.0.1:22379", "127.0.0.1:32379"]}]
`,
    );
    await writeFile(
      join(dir, "alertmanager.yml"),
      `route:
  receiver: steward
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: steward
    webhook_configs:
      - url: ${this.options.receiverUrl}
        send_resolved: true
        http_config:
          authorization: {type: Bearer, credentials_file: ${this.options.tokenFile}}
`,
    );
    this.spawn(ALERTMANAGER_BINARY, [
      `--config.file=${join(dir, "alertmanager.yml")}`,
      `--storage.path=${join(dir, "am")}`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      "--cluster.listen-address=",
      "--log.level=warn",
    ]);
    this.spawn("prometheus", [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "tsdb")}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      // An alert that fires before Prometheus has found its Alertmanager is dropped, and sent
      // again only after the resend delay (1 min by default): on a cold start that is the
      // first alert of every test. 1 s, like the evaluation interval.
      "--rules.alert.resend-delay=1s",
      "--log.level=warn",
    ]);
    for (const url of [this.alertmanagerUrl, this.prometheusUrl]) {
      await waitFor(
        async () => (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) }).catch(() => undefined))?.ok,
        30_000,
        `${url} ready (logs: ${this.logs.slice(-5).join(" | ")})`,
      );
    }
  }

  /** The alerts Alertmanager holds (its v2 API), with their state. */
  async alertmanagerAlerts(): Promise<
    { fingerprint: string; labels: Record<string, string>; status: { state: string } }[]
  > {
    const res = await fetch(`${this.alertmanagerUrl}/api/v2/alerts`, { signal: AbortSignal.timeout(2_000) });
    return (await res.json()) as { fingerprint: string; labels: Record<string, string>; status: { state: string } }[];
  }

  /** Prometheus's firing ALERTS series for an alertname. */
  async firing(alertname: string): Promise<Record<string, string>[]> {
    const query = encodeURIComponent(`ALERTS{alertname="${alertname}",alertstate="firing"}`);
    const res = await fetch(`${this.prometheusUrl}/api/v1/query?query=${query}`, {
      signal: AbortSignal.timeout(2_000),
    });
    const body = (await res.json()) as { data?: { result?: { metric: Record<string, string> }[] } };
    return (body.data?.result ?? []).map((r) => r.metric);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  private spawn(binary: string, args: string[]): void {
    const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    child.on("error", (err) => this.logs.push(`${binary}: ${err.message} (install it: bash scripts/engines.sh up)`));
    collectLines(child, this.logs);
    this.children.push(child);
  }
}
