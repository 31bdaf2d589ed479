/**
 * `npm run bench`: fault scenarios on the etcd compose cluster beside their baselines, the
 * agent path (Steward's own share, scripted model), the peer baseline (an alerting rule
 * through Alertmanager), then scale rows on containers of the bench's own — the targets'
 * shapes and the scaling curve — on the file store and the Kubernetes store (the bench
 * brings the test control plane up, as `npm test` does, for the Kubernetes rows only, and
 * stops it if it started it).
 * Prints a table; writes JSON, markdown and an SVG plot to bench/results/. `-- --quick`
 * runs a 2-minute subset.
 *
 *   npm run bench [-- --quick] [--only faults|agent|peer|scale] [--profile DIR] [--no-kubernetes]
 *                 [--sizes 1000,2000] [--stores file,kubernetes]
 *
 * A real Claude answers the etcd agent scenarios when ANTHROPIC_API_KEY is set (cost is on
 * that account, capped by the bench policy's maxCostUSD of 1 per remediation); otherwise
 * the scripted fake Messages API does, and tokens are the fake's. The agent path always
 * uses the scripted model: it times Steward, not the model.
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
import {
  checkAllTargets,
  curveRows,
  fitCurves,
  renderMarkdown,
  renderTable,
  type BenchReport,
  type Machine,
} from "./lib/report.js";
import { renderPanels, type Series } from "./lib/svg.js";
import { agentPath, type AgentPathResult } from "./scenarios/agent-path.js";
import * as faults from "./scenarios/faults.js";
import * as alerts from "./scenarios/alerts.js";
import type { FaultResult } from "./scenarios/faults.js";
import { ALERTMANAGER_BIN, peerBaseline, type PeerResult } from "./scenarios/peer.js";
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
    sizes: { type: "string" },
    stores: { type: "string" },
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

/**
 * The test control plane, as scripts/test.sh gets it: the running one, or built (cached in
 * /var/cache/steward-k8s) and started here, and then stopped at the end.
 */
async function controlPlane(): Promise<{ access: KubeAccess | string; stop?: () => Promise<void> }> {
  if (args["no-kubernetes"]) return { access: "not measured (--no-kubernetes)" };
  const script = join(ROOT, "scripts", "control-plane.sh");
  const sh = (...words: string[]): Promise<{ stdout: string }> =>
    run("bash", [script, ...words], { maxBuffer: 16 * 1024 * 1024 });
  let stop: (() => Promise<void>) | undefined;
  try {
    const running = await sh("status").then(
      () => true,
      () => false,
    );
    if (!running) {
      log("kubernetes store: starting the test control plane (scripts/control-plane.sh build, up)");
      await sh("build");
      await sh("up");
      stop = async () => void (await sh("down"));
    }
    const env = (await sh("env")).stdout;
    const kubeconfig = /KUBECONFIG=("?)([^"\n]+)\1/.exec(env)?.[2] ?? "/tmp/steward-k8s/kubeconfig";
    const bin = (await sh("bindir")).stdout.trim();
    if (!existsSync(kubeconfig)) return { access: `not available (no kubeconfig at ${kubeconfig})`, stop };
    return { access: { kubeconfig, kubectl: join(bin, "kubectl") }, stop };
  } catch (err) {
    const why = String((err as { stderr?: string }).stderr ?? err)
      .trim()
      .split("\n")
      .slice(-1)[0];
    return { access: `not available (scripts/control-plane.sh: ${why})`, stop };
  }
}

/**
 * Which rows to run: the targets' shapes and the scaling curve, narrowed by --sizes and
 * --stores; the file store's first, so the control plane runs only for the Kubernetes rows.
 */
function scaleRows(): ScaleRow[] {
  if (QUICK) return [{ store: "file", containers: 100, desiredStates: 100 }];
  const stores = (["file", "kubernetes"] as const).filter(
    (s) =>
      (s === "file" || !args["no-kubernetes"]) && (args.stores === undefined || args.stores.split(",").includes(s)),
  );
  const sizes = args.sizes?.split(",").map(Number);
  const wanted = (ds: number): boolean => sizes === undefined || sizes.includes(ds);
  const rows: ScaleRow[] = [];
  if (stores.includes("file") && wanted(1)) rows.push({ store: "file", containers: 1, desiredStates: 1 });
  for (const store of stores) {
    // The curve: 500 containers, one invariant per DesiredState.
    for (const ds of [100, 500, 1000, 2000].filter(wanted)) rows.push({ store, containers: 500, desiredStates: ds });
    // The same 1,000 invariants in 100 DesiredStates of 10: a tenth of the objects.
    if (wanted(100)) rows.push({ store, containers: 500, desiredStates: 100, invariantsPerDesiredState: 10 });
    // 1,000 invariants that share no query: the evaluator's worst case.
    if (store === "file" && wanted(1000))
      rows.push({ store: "file", containers: 500, desiredStates: 1000, distinctQueries: true });
  }
  return rows;
}

/**
 * The scale rows. The control plane is brought up (or found running) just before the first
 * Kubernetes-store row and stopped after the last if the bench started it: running, it
 * costs the machine CPU that every other measurement would share.
 */
async function runScale(runId: string): Promise<{ scale: ScaleResult[]; kubernetes: string }> {
  log("scale:");
  const prometheus = await startPrometheus(runId);
  const results: ScaleResult[] = [];
  const ctx: Parameters<typeof runScaleRow>[1] = {
    runId,
    prometheusUrl: prometheus.url,
    steadySeconds: QUICK ? 15 : 30,
    settleSeconds: QUICK ? 5 : 30,
    kills: QUICK ? 3 : 5,
    containers: [] as string[],
    profileDir: args.profile,
    log,
  };
  let plane: { access: KubeAccess | string; stop?: () => Promise<void> } = {
    access: args["no-kubernetes"] ? "not measured (--no-kubernetes)" : "no Kubernetes-store row asked for",
  };
  try {
    for (const row of scaleRows()) {
      if (row.store === "kubernetes" && typeof plane.access === "string") {
        plane = await controlPlane();
        if (typeof plane.access === "string") break;
        ctx.kube = plane.access;
        await prepareKubeNamespace(plane.access);
      }
      const result = await runScaleRow(row, ctx);
      log(
        `    CPU ${result.cpuPercentOfOneCore.toFixed(2)} % of a core, RSS ${result.rssMB.toFixed(0)} MB, detect p50 ${result.detectionMs.p50} ms`,
      );
      results.push(result);
    }
  } finally {
    await prometheus.stop();
    await removeBenchContainers(runId);
    await plane.stop?.();
  }
  const kubernetes =
    typeof plane.access === "string"
      ? plane.access
      : `control plane at ${plane.access.kubeconfig}${plane.stop ? " (started by the bench)" : ""}, requests counted by a proxy between Steward and the API server`;
  return { scale: results, kubernetes };
}

/** Steady-state CPU, RSS and detection against the number of DesiredStates (curve rows), with the fitted lines. */
function plot(scale: readonly ScaleResult[]): string {
  const categories = [
    ...new Set([...curveRows(scale, "file"), ...curveRows(scale, "kubernetes")].map((r) => r.desiredStates)),
  ].sort((a, b) => a - b);
  const fits = fitCurves(scale);
  const colors: Record<string, string> = { file: "#1f77b4", kubernetes: "#2ca02c" };
  const panel = (
    title: string,
    yLabel: string,
    pick: (r: ScaleResult) => number,
    fitted?: (store: string, ds: number) => number | undefined,
  ): Parameters<typeof renderPanels>[0][number] => ({
    title,
    yLabel,
    categories: categories.map(String),
    series: (["file", "kubernetes"] as const).flatMap((store): Series[] => {
      const rows = curveRows(scale, store);
      if (rows.length === 0) return [];
      const color = colors[store] ?? "black";
      const measured = {
        name: store,
        color,
        values: categories.map((c) => rows.find((r) => r.desiredStates === c)).map((r) => (r ? pick(r) : undefined)),
      };
      if (!fitted) return [measured];
      return [
        measured,
        { name: `${store}: fit`, color, dashed: true, values: categories.map((c) => fitted(store, c)) },
      ];
    }),
  });
  const fitAt =
    (field: "cpu" | "rss") =>
    (store: string, ds: number): number | undefined => {
      const f = fits.find((x) => x.store === store);
      if (!f) return undefined;
      return field === "cpu"
        ? f.cpuIntercept + (f.cpuPerThousand * ds) / 1000
        : f.rssInterceptMB + (f.rssPerThousandMB * ds) / 1000;
    };
  return renderPanels([
    panel(
      "Steady-state CPU vs DesiredStates (500 containers)",
      "% of one core",
      (r) => r.cpuPercentOfOneCore,
      fitAt("cpu"),
    ),
    panel("Resident memory vs DesiredStates", "RSS MB (end of steady window)", (r) => r.rssMB, fitAt("rss")),
    panel("Container death → drift detected (p50)", "ms", (r) => r.detectionMs.p50),
  ]);
}

async function runAgentPath(runId: string): Promise<AgentPathResult | string> {
  log("agent path (scripted model):");
  try {
    return await agentPath({ runId, runs: QUICK ? 3 : 5, log, profileDir: args.profile });
  } catch (err) {
    log(`  agent path failed: ${String(err)}`);
    return `failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

async function runPeer(runId: string): Promise<PeerResult | string> {
  if (QUICK) return "not measured in quick mode (it takes about 2 minutes)";
  if (!existsSync(ALERTMANAGER_BIN))
    return `not available (${ALERTMANAGER_BIN} missing: bash scripts/engines.sh up installs it)`;
  log("peer baseline (alerting rule + Alertmanager):");
  try {
    return await peerBaseline({ runId, log });
  } catch (err) {
    log(`  peer baseline failed: ${String(err)}`);
    return `failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const runId = `r${started.toString(36)}`;
  const only = args.only;
  const wants = (part: string): boolean => only === undefined || only === part;
  const faultRows: FaultResult[] = wants("faults") ? await runFaults() : [];
  const agent = wants("agent") ? await runAgentPath(runId) : `not run (--only ${only})`;
  const peer = wants("peer") ? await runPeer(runId) : `not run (--only ${only})`;
  const { scale, kubernetes } = wants("scale")
    ? await runScale(runId)
    : { scale: [], kubernetes: `not measured (--only ${only})` };
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
    kubernetes,
    ...(wants("faults") ? {} : { faultsSkipped: `--only ${only}` }),
    agentPath: agent,
    peer,
    targets: checkAllTargets(
      faultRows,
      scale,
      agent,
      QUICK || /^(not measured|no Kubernetes-store row)/.test(kubernetes) ? kubernetes : undefined,
    ),
  };
  await writeReport(report, scale);
}

async function writeReport(report: BenchReport, scale: readonly ScaleResult[]): Promise<void> {
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
