/**
 * The bench's report: what was measured, the targets judged against it, and three
 * renderings — a table for stdout, markdown for bench/results/, and the JSON itself.
 * Pure (test/bench/report.test.ts).
 */
import type { FaultResult } from "../scenarios/faults.js";
import type { ScaleResult } from "../scenarios/scale.js";
import { ratio } from "./stats.js";

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGB: number;
  kernel: string;
  node: string;
  docker: string;
  description: string;
}

export interface TargetCheck {
  target: string;
  measured: string;
  /** undefined: not measured in this run. */
  met: boolean | undefined;
}

export interface BenchReport {
  date: string;
  mode: "full" | "quick";
  durationSeconds: number;
  machine: Machine;
  model: string;
  faults: FaultResult[];
  scale: ScaleResult[];
  /** Why the Kubernetes-store rows are missing, when they are. */
  kubernetes: string;
  /** Why the etcd fault scenarios are missing, when they are. */
  faultsSkipped?: string;
  targets: TargetCheck[];
}

const ms = (v: number): string => (Number.isFinite(v) ? `${Math.round(v)} ms` : "—");
const x = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}×` : "—");
const pct = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)} %` : "—");
const num = (v: number | undefined, digits = 1): string =>
  v !== undefined && Number.isFinite(v) ? v.toFixed(digits) : "—";

function find(faults: readonly FaultResult[], scenario: string, actor: string): FaultResult | undefined {
  return faults.find((f) => f.scenario === scenario && f.actor === actor);
}

/** Ratios of recovery p50s measured in the same run: Steward (or a baseline) over bare `docker start`. */
export function recoveryRatios(faults: readonly FaultResult[]): { name: string; value: number }[] {
  const bare = find(faults, "stopped member", "bare docker start")?.recoverMs.p50 ?? Number.NaN;
  const stopped = find(faults, "stopped member", "Steward")?.recoverMs.p50 ?? Number.NaN;
  const crashed = find(faults, "crashed member", "Steward")?.recoverMs.p50 ?? Number.NaN;
  const always = find(faults, "crashed member", "Docker restart: always")?.recoverMs.p50 ?? Number.NaN;
  const poller = find(faults, "crashed member", "1 s polling monitor")?.recoverMs.p50 ?? Number.NaN;
  return [
    { name: "stopped member: Steward / bare docker start", value: ratio(stopped, bare) },
    { name: "crashed member: Steward / bare docker start", value: ratio(crashed, bare) },
    { name: "crashed member: Docker restart: always / bare docker start", value: ratio(always, bare) },
    { name: "crashed member: 1 s poller / bare docker start", value: ratio(poller, bare) },
    { name: "crashed member: Steward / Docker restart: always", value: ratio(crashed, always) },
    { name: "crashed member: Steward / 1 s poller", value: ratio(crashed, poller) },
  ].filter((r) => Number.isFinite(r.value));
}

/** The most loaded file-store row (most DesiredStates, then invariants) with at least `containers` containers. */
function scaleRow(scale: readonly ScaleResult[], containers: number): ScaleResult | undefined {
  return scale
    .filter((r) => r.store === "file" && r.containers >= containers)
    .sort((a, b) => b.desiredStates - a.desiredStates || b.invariants - a.invariants)[0];
}

/** The targets, judged against what this run measured. */
export function checkTargets(faults: readonly FaultResult[], scale: readonly ScaleResult[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const bare = find(faults, "stopped member", "bare docker start");
  const stopped = find(faults, "stopped member", "Steward");
  if (bare && stopped) {
    const r = ratio(stopped.recoverMs.p50, bare.recoverMs.p50);
    checks.push({
      target: "stopped member back running ≤ 2× bare docker start (p50), zero tokens",
      measured: `${ms(stopped.recoverMs.p50)} vs ${ms(bare.recoverMs.p50)} = ${x(r)}, ${stopped.tokens} tokens`,
      met: r <= 2 && stopped.tokens === 0,
    });
  } else
    checks.push({
      target: "stopped member back running ≤ 2× bare docker start (p50), zero tokens",
      measured: "not run",
      met: undefined,
    });
  const big = scaleRow(scale, 500);
  checks.push(
    big
      ? {
          target: "container death detected ≤ 100 ms p50 with 500 containers",
          measured: `${ms(big.detectionMs.p50)} (${big.containers} containers, ${big.desiredStates} DesiredStates)`,
          met: big.detectionMs.p50 <= 100,
        }
      : { target: "container death detected ≤ 100 ms p50 with 500 containers", measured: "not run", met: undefined },
  );
  const steadyTarget = "steady state < 2 % of one core and < 200 MB RSS, 500 containers, 1,000 invariants every 15 s";
  const steadyRows = scale.filter((r) => r.store === "file" && r.containers >= 500 && r.invariants >= 1000);
  if (steadyRows.length === 0) checks.push({ target: steadyTarget, measured: "not run", met: undefined });
  for (const r of steadyRows) {
    checks.push({
      target: `${steadyTarget} (${r.desiredStates} DesiredStates × ${r.invariants / r.desiredStates})`,
      measured: `${pct(r.cpuPercentOfOneCore)} of a core, ${num(r.rssMB, 0)} MB RSS (peak ${num(r.peakRssMB, 0)} MB)`,
      met: r.cpuPercentOfOneCore < 2 && r.rssMB < 200,
    });
  }
  checks.push(perObjectPolling(scale));
  return checks;
}

/**
 * No per-object polling: at steady state the only traffic is what the declared intervals
 * ask for (one query per invariant per 15 s), and, with the Kubernetes store, watches and
 * lease renewals — no reads or writes per object.
 */
function perObjectPolling(scale: readonly ScaleResult[]): TargetCheck {
  const target = "no per-object polling: steady-state cost grows with changes, not objects";
  if (scale.length === 0) return { target, measured: "not run", met: undefined };
  const excessQueries = Math.max(...scale.map((r) => r.prometheusQueriesPerSecond / (r.invariants / 15)));
  const kube = scale.filter((r) => r.apiRequestsByKind !== undefined);
  const objectRequests = Math.max(0, ...kube.map((r) => objectRequestsPerMinute(r.apiRequestsByKind ?? {})));
  const parts = [`Prometheus queries ${x(excessQueries)} the declared rate at most`];
  if (kube.length > 0) parts.push(`${num(objectRequests)} API requests/min beyond watches and lease renewals`);
  else parts.push("Kubernetes store not measured");
  return { target, measured: parts.join("; "), met: excessQueries < 1.2 && objectRequests < 1 };
}

/** API requests that are neither watches nor the Lease (renewals) nor Events. */
export function objectRequestsPerMinute(byKind: Record<string, number>): number {
  return Object.entries(byKind)
    .filter(([kind]) => !kind.startsWith("WATCH ") && !kind.endsWith(" leases"))
    .reduce((sum, [, n]) => sum + n, 0);
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const esc = (c: string): string => c.replace(/\|/g, "\\|");
  return [
    `| ${header.map(esc).join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ].join("\n");
}

const FAULT_HEADER = [
  "scenario",
  "actor",
  "runs",
  "detect p50",
  "recover p50",
  "recover p90",
  "path",
  "agent steps",
  "tokens",
  "cost USD",
  "outcome",
];
function faultRows(faults: readonly FaultResult[]): string[][] {
  return faults.map((f) => [
    f.scenario,
    f.actor,
    String(f.runs),
    ms(f.detectMs.p50),
    ms(f.recoverMs.p50),
    ms(f.recoverMs.p90),
    f.path,
    String(f.agentSteps),
    String(f.tokens),
    f.costUSD.toFixed(4),
    f.outcome,
  ]);
}

const SCALE_HEADER = [
  "store",
  "containers",
  "DesiredStates",
  "invariants",
  "initial sync",
  "reconciles/s (burst)",
  "reconcile p50",
  "reconcile p99",
  "CPU % of a core",
  "RSS MB",
  "peak RSS MB",
  "Prom queries/s",
  "API req/min",
  "detect p50",
  "detect p90",
  "recover p50",
];
function scaleRows(scale: readonly ScaleResult[]): string[][] {
  return scale.map((r) => [
    r.store,
    String(r.containers),
    String(r.desiredStates),
    String(r.invariants),
    ms(r.initialSyncMs),
    num(r.throughputPerSecond),
    ms(r.reconcileP50Ms),
    ms(r.reconcileP99Ms),
    pct(r.cpuPercentOfOneCore),
    num(r.rssMB, 0),
    num(r.peakRssMB, 0),
    num(r.prometheusQueriesPerSecond),
    r.apiRequestsPerMinute === undefined ? "—" : num(r.apiRequestsPerMinute),
    ms(r.detectionMs.p50),
    ms(r.detectionMs.p90),
    ms(r.recoveryMs.p50),
  ]);
}

const verdict = (met: boolean | undefined): string => (met === undefined ? "not measured" : met ? "met" : "MISSED");

export function renderTable(report: BenchReport): string {
  const parts = [`steward bench (${report.mode}), ${report.date}, ${report.machine.description}`];
  if (report.faults.length > 0) parts.push(table(FAULT_HEADER, faultRows(report.faults)));
  if (report.faultsSkipped) parts.push(`fault scenarios: ${report.faultsSkipped}`);
  const ratios = recoveryRatios(report.faults);
  if (ratios.length > 0)
    parts.push(
      table(
        ["ratio (p50, same run)", "value"],
        ratios.map((r) => [r.name, x(r.value)]),
      ),
    );
  if (report.scale.length > 0) parts.push(table(SCALE_HEADER, scaleRows(report.scale)));
  parts.push(`kubernetes store: ${report.kubernetes}`);
  parts.push(
    table(
      ["target", "measured", "verdict"],
      report.targets.map((t) => [t.target, t.measured, verdict(t.met)]),
    ),
  );
  return `${parts.join("\n\n")}\n`;
}

export function renderMarkdown(report: BenchReport, files: { json: string; svg: string }): string {
  const m = report.machine;
  const parts = [
    `# Steward benchmark — ${report.date}`,
    `Mode: ${report.mode} (${Math.round(report.durationSeconds)} s). Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGB} GB, Linux ${m.kernel}, Node ${m.node}, Docker ${m.docker}. Model for the agent scenarios: ${report.model}. Raw data: [${files.json}](${files.json}).`,
    "## Targets",
    markdownTable(
      ["target", "measured", "verdict"],
      report.targets.map((t) => [t.target, t.measured, verdict(t.met)]),
    ),
  ];
  if (report.faults.length > 0 || report.faultsSkipped) {
    parts.push("## Fault scenarios and baselines (etcd compose cluster)");
    if (report.faultsSkipped) parts.push(`Not run: ${report.faultsSkipped}`);
    if (report.faults.length > 0) parts.push(markdownTable(FAULT_HEADER, faultRows(report.faults)));
    const ratios = recoveryRatios(report.faults);
    if (ratios.length > 0)
      parts.push(
        markdownTable(
          ["ratio (recovery p50, same run)", "value"],
          ratios.map((r) => [r.name, x(r.value)]),
        ),
      );
  }
  if (report.scale.length > 0) {
    parts.push(
      "## Scale",
      markdownTable(SCALE_HEADER, scaleRows(report.scale)),
      `Kubernetes store: ${report.kubernetes}.`,
    );
    const kube = report.scale.filter((r) => r.apiRequestsByKind);
    for (const r of kube) {
      const kinds = Object.entries(r.apiRequestsByKind ?? {})
        .map(([k, v]) => `${k}: ${v.toFixed(1)}`)
        .join(", ");
      parts.push(
        `API requests per minute at steady state, ${r.containers} containers / ${r.desiredStates} DesiredStates: ${kinds || "none"}.`,
      );
    }
    parts.push(`![detection and recovery time against scale](${files.svg})`);
  }
  return `${parts.join("\n\n")}\n`;
}
