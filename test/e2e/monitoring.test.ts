/**
 * The monitoring kit (issue 13.5): every PromQL expression of the chart's PrometheusRule and
 * Grafana dashboard is evaluated by a real Prometheus (Debian's, from scripts/engines.sh)
 * that scrapes a running Steward and loads the rules. A parse error, a metric name Steward
 * does not export, a rule that fails to evaluate, or an alert raised by a healthy Steward
 * fails the test.
 */
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { parseAllDocuments, stringify } from "yaml";
import { helmOk } from "../../scripts/lib/helm.js";
import { CHART } from "../../scripts/lib/manifests.js";
import { waitFor } from "../../scripts/lib/wait.js";
import { cli, collectLines, StewardProcess, tempStateDir } from "../support/steward.js";
import { writeManifest } from "../support/desired-states.js";

const run = promisify(execFile);
/** The job label the chart's Service gives Steward's scrape (release "steward"). */
const JOB = "steward-metrics";

interface Rule {
  alert: string;
  expr: string;
}
interface Dashboard {
  panels: { title: string; targets?: { expr: string }[] }[];
  templating: { list: { name: string; query?: { query: string } | string }[] };
}

/** The chart's PrometheusRule groups and dashboard JSON, rendered as a user would install them. */
async function renderKit(): Promise<{ groups: { name: string; rules: Rule[] }[]; dashboard: Dashboard }> {
  const text = await helmOk(
    "template",
    "steward",
    CHART,
    "--set",
    "prometheusRule.enabled=true",
    "--set",
    "grafanaDashboard.enabled=true",
  );
  const objects = parseAllDocuments(text).map(
    (d) =>
      d.toJS() as { kind: string; spec?: { groups: { name: string; rules: Rule[] }[] }; data?: Record<string, string> },
  );
  const rule = objects.find((o) => o?.kind === "PrometheusRule");
  const configMap = objects.find((o) => o?.kind === "ConfigMap");
  assert.ok(rule?.spec && configMap?.data?.["steward.json"], "the chart renders the rule and the dashboard");
  return { groups: rule.spec.groups, dashboard: JSON.parse(configMap.data["steward.json"]) as Dashboard };
}

/** Grafana's variables as Grafana would fill them for this job. */
function grafanaToPromQL(expr: string): string {
  return expr
    .replace(/\$job\b/g, JOB)
    .replace(/\$__rate_interval\b/g, "1m")
    .replace(/\$__interval\b/g, "15s")
    .replace(/\$__range\b/g, "1h");
}

const NOT_METRICS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "inf",
  "nan",
]);

/**
 * The metric names an expression selects: identifiers left once strings, label matchers,
 * ranges and label lists are removed, that are neither keywords nor function calls.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  return [...bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)]
    .filter((m) => !NOT_METRICS.has(m[0].toLowerCase()))
    .filter((m) => !/^\s*\(/.test(bare.slice((m.index ?? 0) + m[0].length)))
    .map((m) => m[0]);
}

/** Every series name Steward's /metrics declares (a histogram's _bucket, _sum and _count too). */
function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (!name) continue;
    names.add(name);
    if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${name}${suffix}`);
    if (type === "summary") for (const suffix of ["_sum", "_count"]) names.add(`${name}${suffix}`);
  }
  return names;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no free port");
  return address.port;
}

interface QueryAnswer {
  status: string;
  errorType?: string;
  error?: string;
}

describe("the monitoring kit against a real Prometheus scraping a running Steward", () => {
  let kit: Awaited<ReturnType<typeof renderKit>>;
  let dir: string;
  let steward: StewardProcess;
  let prometheus: ChildProcess;
  const prometheusLogs: string[] = [];
  let url: string;

  const query = async (expr: string): Promise<QueryAnswer> => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`, {
      signal: AbortSignal.timeout(5_000),
    });
    return (await res.json()) as QueryAnswer;
  };

  before(async () => {
    kit = await renderKit();
    dir = await mkdtemp(join(tmpdir(), "steward-monitoring-"));
    await writeFile(join(dir, "rules.yaml"), stringify({ groups: kit.groups }));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    steward = new StewardProcess(await tempStateDir(), ["--prometheus-url", url]);
    await steward.start();
    // Something to reconcile: a DesiredState whose invariant reads Steward's own metrics from this Prometheus.
    const applied = await cli(
      steward.stateDir,
      "apply",
      "-f",
      await writeManifest(
        dir,
        "self.yaml",
        `apiVersion: steward.dev/v1alpha1\nkind: DesiredState\nmetadata: {name: self}\nspec:\n  target: {docker: {selector: {steward-monitoring-test: "none"}}}\n  interval: 2s\n  invariants:\n    - {name: leads, query: 'max(steward_leader{job="${JOB}"})', condition: "== 1"}\n`,
      ),
    );
    assert.equal(applied.code, 0, applied.stderr);
    await writeFile(
      join(dir, "prometheus.yml"),
      stringify({
        global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
        rule_files: [join(dir, "rules.yaml")],
        scrape_configs: [{ job_name: JOB, static_configs: [{ targets: [steward.metricsAddress] }] }],
      }),
    );
    prometheus = spawn(
      "prometheus",
      [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    collectLines(prometheus, prometheusLogs);
    await waitFor(
      async () => {
        const answer = (await (
          await fetch(`${url}/api/v1/query?query=${encodeURIComponent(`up{job="${JOB}"} == 1`)}`).catch(() => undefined)
        )
          ?.json()
          .catch(() => undefined)) as { data?: { result?: unknown[] } } | undefined;
        return (answer?.data?.result?.length ?? 0) > 0;
      },
      60_000,
      `Prometheus to scrape Steward (logs: ${prometheusLogs.slice(-3).join(" | ")})`,
    );
  });

  after(async () => {
    prometheus?.kill("SIGTERM");
    await steward?.stop();
  });

  it("promtool accepts the rule file (expressions, durations, label and annotation templates)", async () => {
    const { stdout } = await run("promtool", ["check", "rules", join(dir, "rules.yaml")], { timeout: 30_000 });
    assert.match(stdout, /SUCCESS: 7 rules found/);
  });

  it("the checker catches what it must: a parse error is refused, a misspelled metric is named", async () => {
    const broken = await query("sum(rate(steward_reconcile_total[5m])");
    assert.equal(broken.status, "error");
    assert.equal(broken.errorType, "bad_data");
    const exported = exportedNames(await (await fetch(`http://${steward.metricsAddress}/metrics`)).text());
    assert.deepEqual(
      metricNames('sum by (controller) (rate(steward_reconcile_totl{job="x"}[5m])) / on (le) steward_leader').filter(
        (name) => !exported.has(name),
      ),
      ["steward_reconcile_totl"],
    );
  });

  it("every alert's and every panel's expression parses and evaluates, over metrics Steward exports", async () => {
    const exported = exportedNames(await (await fetch(`http://${steward.metricsAddress}/metrics`)).text());
    const expressions = [
      ...kit.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }))),
      ...kit.dashboard.panels.flatMap((p) =>
        (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: grafanaToPromQL(t.expr) })),
      ),
    ];
    assert.ok(expressions.length >= 30, `${expressions.length} expressions`);
    const problems: string[] = [];
    for (const { where, expr } of expressions) {
      const answer = await query(expr);
      if (answer.status !== "success") problems.push(`${where}: ${answer.errorType}: ${answer.error} (${expr})`);
      const unknown = metricNames(expr).filter((name) => !exported.has(name));
      if (unknown.length > 0) problems.push(`${where}: not exported by Steward: ${unknown.join(", ")} (${expr})`);
    }
    for (const variable of kit.dashboard.templating.list) {
      const text = typeof variable.query === "string" ? variable.query : (variable.query?.query ?? "");
      const metric = /label_values\((\w+)/.exec(text)?.[1];
      if (metric && !exported.has(metric)) problems.push(`variable $${variable.name}: ${metric} is not exported`);
    }
    assert.deepEqual(problems, []);
  });

  it("Prometheus evaluates every rule without error, and a healthy, leading Steward raises no alert", async () => {
    interface RuleState {
      name: string;
      health: string;
      lastError?: string;
      lastEvaluation: string;
      state: string;
    }
    // Prometheus scraped Steward before this test began (before()): rules evaluated since then
    // saw its metrics. One evaluated earlier may have seen none (StewardNoLeader pending).
    const since = Date.now();
    const rules = await waitFor(
      async () => {
        const body = (await (await fetch(`${url}/api/v1/rules`)).json()) as {
          data: { groups: { rules: RuleState[] }[] };
        };
        const all = body.data.groups.flatMap((g) => g.rules);
        return all.length === 7 && all.every((r) => Date.parse(r.lastEvaluation) > since) ? all : undefined;
      },
      30_000,
      "every rule evaluated again after Prometheus scraped Steward",
    );
    for (const rule of rules) {
      assert.equal(rule.health, "ok", `${rule.name}: ${rule.lastError ?? ""}`);
      assert.equal(rule.state, "inactive", `${rule.name} is ${rule.state}`);
    }
    const leader = await query(`max(steward_leader{job="${JOB}"})`);
    assert.equal(leader.status, "success");
  });
});
