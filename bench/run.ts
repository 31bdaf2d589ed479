/**
 * `npm run bench`: fault scenarios on the etcd compose cluster beside their baselines, then
 * scale rows on containers of the bench's own, on the file store and (when a control plane
 * answers) the Kubernetes store. Prints a table; writes JSON, markdown and an SVG plot to
 * bench/results/. `-- --quick` runs a 2-minute subset.
 *
 *   npm run bench [-- --quick] [--only faults|scale] [--profile DIR] [--no-kubernetes]
 *
 * A real Claude answers the agent scenarios when ANTHROPIC_API_KEY is set (cost is on that
 * account, capped by the bench policy's maxCostUSD of 1 per remediation); otherwise the
 * scripted fake Messages API does, and tokens are the fake's.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseArgs } from "node:util";
import { ensureCluster } from "../scripts/lib/cluster.js";
import { removeBenchContainers } from "./lib/docker.js";
import { startPrometheus } from "./lib/prometheus.js";
import { checkTargets, renderMarkdown, renderTable, type BenchReport, type Machine } from "./lib/report.js";
import { renderChart } from "./lib/svg.js";
import * as faults from "./scenarios/faults.js";
import * as alerts from "./scenarios/alerts.js";
import type { FaultResult } from "./scenarios/faults.js";
import {
  prepareKubeNamespace,
  runScaleRow,
  type KubeAccess,
  type ScaleResult,
  type ScaleRow,
} from "./scenarios/scale.js";

const run = promisify(execFile);
const ROOT = new URL("../", import.meta.url).pathname;
const RESULTS = join(ROOT, "bench", "results");

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    profile: { type: "string" },
    "no-kubernetes": { type: "boolean", default: false },
  },
});

const QUICK = args.quick === true;
const log = (line: string): void => void process.stderr.write(`${line}\n`);

async function machine(): Promise<Machine> {
  const docker = await run("docker", ["version", "--format", "{{.Server.Version}}"]).then(
    (r) => r.stdout.trim(),
    () => "unknown",
  );
  const cpu = cpus();
  const model = (cpu[0]?.model ?? "unknown").replace(/\s+/g, " ").trim();
  const memoryGB = Math.round(totalmem() / 2 ** 30);
  return {
    cpus: cpu.length,
    cpuModel: model,
    memoryGB,
    kernel: release(),
    node: process.version,
    docker,
    description: `${cpu.length} cores (${model}), ${memoryGB} GB, Linux ${release()}, Node ${process.version}, Docker ${docker}`,
  };
}

async function runFaults(): Promise<FaultResult[]> {
  const options = { runs: QUICK ? 3 : 5, log, anthropicApiKey: process.env.ANTHROPIC_API_KEY || undefined };
  log("fault scenarios on the etcd cluster:");
  await ensureCluster();
  const rows: FaultResult[] = [];
  rows.push(await faults.bareDockerStart(options));
  rows.push(...(await faults.stewardSimpleFixes(options)));
  if (QUICK) return rows.filter((r) => r.scenario === "stopped member");
  rows.push(await faults.dockerRestartPolicy(options));
  rows.push(await faults.pollingMonitor(options));
  for (const scenario of [faults.crashLoop, faults.removedMember, faults.frozenMember]) {
    const row = await scenario(options);
    log(`  ${row.scenario}: ${row.outcome}, detect ${Math.round(row.detectMs.p50)} ms`);
    rows.push(row);
  }
  rows.push(await faults.prometheusDown({ ...options, runs: 3 }));
  rows.push(...(await alerts.alertRows({ ...options, runs: 3 })));
  return rows;
}

/** The test control plane, when scripts/control-plane.sh says it is up. */
async function kubeAccess(): Promise<KubeAccess | string> {
  if (args["no-kubernetes"]) return "not measured (--no-kubernetes)";
  const script = join(ROOT, "scripts", "control-plane.sh");
  try {
    await run("bash", [script, "status"]);
    const bin = (await run("bash", [script, "bindir"])).stdout.trim();
    const kubeconfig = process.env.KUBECONFIG ?? "/tmp/steward-k8s/kubeconfig";
    if (!existsSync(kubeconfig)) return `not available (no kubeconfig at ${kubeconfig})`;
    return { kubeconfig, kubectl: join(bin, "kubectl") };
  } catch (err) {
    return `not available (scripts/control-plane.sh status: ${
      String((err as { stderr?: string }).stderr ?? err)
        .trim()
        .split("\n")[0]
    })`;
  }
}

function scaleRows(kube: boolean): ScaleRow[] {
  if (QUICK) return [{ store: "file", containers: 100, desiredStates: 100 }];
  const sizes = [
    { containers: 1, desiredStates: 1 },
    { containers: 100, desiredStates: 100 },
    { containers: 500, desiredStates: 1000 },
  ];
  const rows: ScaleRow[] = sizes.map((s) => ({ store: "file", ...s }));
  // The same 1,000 invariants in 100 DesiredStates of 10: a tenth of the reconciles.
  rows.push({ store: "file", containers: 500, desiredStates: 100, invariantsPerDesiredState: 10 });
  if (kube) rows.push(...sizes.map((s) => ({ store: "kubernetes" as const, ...s })));
  return rows;
}

async function runScale(runId: string, kube: KubeAccess | undefined): Promise<ScaleResult[]> {
  log("scale:");
  const prometheus = await startPrometheus(runId);
  const results: ScaleResult[] = [];
  const ctx = {
    runId,
    prometheusUrl: prometheus.url,
    steadySeconds: QUICK ? 15 : 30,
    settleSeconds: QUICK ? 5 : 30,
    kills: QUICK ? 3 : 5,
    containers: [] as string[],
    kube,
    profileDir: args.profile,
    log,
  };
  try {
    if (kube) await prepareKubeNamespace(kube);
    for (const row of scaleRows(kube !== undefined)) {
      const result = await runScaleRow(row, ctx);
      log(
        `    CPU ${result.cpuPercentOfOneCore.toFixed(2)} % of a core, RSS ${result.rssMB.toFixed(0)} MB, detect p50 ${result.detectionMs.p50} ms`,
      );
      results.push(result);
    }
  } finally {
    await prometheus.stop();
    await removeBenchContainers(runId);
  }
  return results;
}

function plot(scale: readonly ScaleResult[]): string {
  const label = (r: ScaleResult): string => `${r.containers} c / ${r.desiredStates} DS / ${r.invariants} inv`;
  const categories = [...new Set(scale.map(label))];
  const series = (["file", "kubernetes"] as const).flatMap((store, k) => {
    const rows = scale.filter((r) => r.store === store);
    if (rows.length === 0) return [];
    const at = (pick: (r: ScaleResult) => number): (number | undefined)[] =>
      categories.map((c) => {
        const r = rows.find((x) => label(x) === c);
        return r ? pick(r) : undefined;
      });
    const colors = k === 0 ? ["#1f77b4", "#ff7f0e"] : ["#2ca02c", "#d62728"];
    return [
      { name: `${store}: detect p50`, values: at((r) => r.detectionMs.p50), color: colors[0] ?? "black" },
      { name: `${store}: recover p50`, values: at((r) => r.recoveryMs.p50), color: colors[1] ?? "black", dashed: true },
    ];
  });
  return renderChart({
    title: "Container death: detection and recovery vs scale",
    yLabel: "ms (death → drift detected / running again)",
    categories,
    series,
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  const runId = `r${started.toString(36)}`;
  const only = args.only;
  const kube = QUICK || only === "faults" ? "not measured in this mode" : await kubeAccess();
  let faultRows: FaultResult[] = [];
  let faultsSkipped: string | undefined;
  if (only !== "scale") faultRows = await runFaults();
  else faultsSkipped = "--only scale";
  const scale = only === "faults" ? [] : await runScale(runId, typeof kube === "string" ? undefined : kube);
  const report: BenchReport = {
    date: new Date(started).toISOString(),
    mode: QUICK ? "quick" : "full",
    durationSeconds: (Date.now() - started) / 1000,
    machine: await machine(),
    model: process.env.ANTHROPIC_API_KEY
      ? `Claude (${process.env.STEWARD_MODEL ?? "Steward's default model"})`
      : "scripted fake Messages API (no ANTHROPIC_API_KEY)",
    faults: faultRows,
    scale,
    kubernetes:
      typeof kube === "string"
        ? kube
        : `control plane at ${kube.kubeconfig}, requests counted by a proxy between Steward and the API server`,
    ...(faultsSkipped ? { faultsSkipped } : {}),
    targets: checkTargets(faultRows, scale),
  };
  await mkdir(RESULTS, { recursive: true });
  const stamp = report.date.replace(/[:.]/g, "-");
  const json = `bench-${stamp}.json`;
  const svg = `bench-${stamp}.svg`;
  await writeFile(join(RESULTS, json), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(RESULTS, svg), plot(scale));
  const markdown = renderMarkdown(report, { json, svg });
  await writeFile(join(RESULTS, `bench-${stamp}.md`), markdown);
  await writeFile(join(RESULTS, "latest.json"), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(RESULTS, "latest.md"), markdown);
  await writeFile(join(RESULTS, "latest.svg"), plot(scale));
  process.stdout.write(renderTable(report));
  process.stdout.write(`\nreport: bench/results/bench-${stamp}.md (JSON, SVG beside it; latest.* are copies)\n`);
}

main().catch(async (err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await removeBenchContainers("*").catch(() => undefined);
  process.exitCode = 1;
});
