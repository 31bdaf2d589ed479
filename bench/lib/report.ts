/**
 * The bench's report: what was measured, the targets judged against it, and three
 * renderings — a table for stdout, markdown for bench/results/, and the JSON itself.
 * Pure (test/bench/report.test.ts).
 */
import type { AgentPathResult } from "../scenarios/agent-path.js";
import type { FaultResult } from "../scenarios/faults.js";
import type { PeerResult } from "../scenarios/peer.js";
import type { ScaleResult } from "../scenarios/scale.js";
import { linearFit, ratio } from "./stats.js";

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
  /** The agent path's figures, or why they are missing. */
  agentPath: AgentPathResult | string;
  /** The peer baseline (alerting rule + Alertmanager), or why it is missing. */
  peer: PeerResult | string;
  targets: TargetCheck[];
}

/** Targets of issue 16, in one place so the checks and the README say the same. */
export const TARGETS = {
  steadyCpuPercent: 1,
  steadyRssMB: 150,
  coldStartMs: 5_000,
  coldStartVsFile: 2,
  firstRequestMs: 250,
  turnOwnMs: 20,
  cacheShare: 0.8,
  evidenceTokens: 4_000,
} as const;

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

/** The file-store row the detection target is judged on: 1,000 DesiredStates if run, else the most loaded with `containers`. */
function scaleRow(scale: readonly ScaleResult[], containers: number): ScaleResult | undefined {
  const rows = scale.filter((r) => r.store === "file" && r.containers >= containers && !r.distinctQueries);
  return (
    rows.find((r) => r.desiredStates === 1000 && r.invariants === 1000) ??
    [...rows].sort((a, b) => b.desiredStates - a.desiredStates || b.invariants - a.invariants)[0]
  );
}

/** A row's shape in words: `kubernetes, 100 DesiredStates × 10`. */
export function shapeOf(r: ScaleResult): string {
  return `${r.store}, ${r.desiredStates} DesiredStates × ${r.invariants / r.desiredStates}${r.distinctQueries ? ", every query distinct" : ""}`;
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
  checks.push(...steadyState(scale), perObjectPolling(scale), coldStart(scale));
  return checks;
}

/** Every target of the run: the fault and scale ones, the agent path's, the bench's own. */
export function checkAllTargets(
  faults: readonly FaultResult[],
  scale: readonly ScaleResult[],
  agent: AgentPathResult | string,
  kubernetesSkipped?: string,
): TargetCheck[] {
  const kubeRows = scale.filter((r) => r.store === "kubernetes").length;
  const judged = scale.length > 0 && kubernetesSkipped === undefined;
  return [
    ...checkTargets(faults, scale),
    ...agentTargets(agent, faults),
    {
      target: "npm run bench stands on its own: the Kubernetes store measured (control plane brought up by the bench)",
      measured: kubeRows > 0 ? `${kubeRows} Kubernetes-store rows` : (kubernetesSkipped ?? "no Kubernetes-store row"),
      met: kubeRows > 0 || (judged ? false : undefined),
    },
  ];
}

function steadyState(scale: readonly ScaleResult[]): TargetCheck[] {
  const target = `steady state ≤ ${TARGETS.steadyCpuPercent} % of one core and ≤ ${TARGETS.steadyRssMB} MB RSS, 500 containers, 1,000 invariants every 15 s`;
  // The target's two shapes; the row whose 1,000 queries are all distinct is the evaluator's
  // worst case, shown in the scale table and judged by no target.
  const rows = scale.filter((r) => r.containers >= 500 && r.invariants === 1000 && !r.distinctQueries);
  if (rows.length === 0) return [{ target, measured: "not run", met: undefined }];
  return rows.map((r) => ({
    target: `${target} (${shapeOf(r)})`,
    measured: `${pct(r.cpuPercentOfOneCore)} of a core, ${num(r.rssMB, 0)} MB RSS (peak ${num(r.peakRssMB, 0)} MB), ${num(r.prometheusQueriesPerSecond, 2)} queries/s`,
    met: r.cpuPercentOfOneCore <= TARGETS.steadyCpuPercent && r.rssMB <= TARGETS.steadyRssMB,
  }));
}

/** Kubernetes store, 1,000 DesiredStates: start → every one reconciled, against the target and the file store's figure. */
function coldStart(scale: readonly ScaleResult[]): TargetCheck {
  const target = `cold start, Kubernetes store, 1,000 DesiredStates: every one reconciled ≤ ${TARGETS.coldStartMs / 1000} s and ≤ ${TARGETS.coldStartVsFile}× the file store`;
  const at = (store: string): ScaleResult | undefined =>
    scale.find((r) => r.store === store && r.desiredStates === 1000 && r.invariants === 1000 && !r.distinctQueries);
  const kube = at("kubernetes");
  if (!kube) return { target, measured: "not run", met: undefined };
  const file = at("file");
  const versus = ratio(kube.coldStartMs, file?.coldStartMs ?? Number.NaN);
  const kinds = Object.entries(kube.coldStartRequestsByKind ?? {})
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  return {
    target,
    measured: `${ms(kube.coldStartMs)} (file store ${ms(file?.coldStartMs ?? Number.NaN)}, ${x(versus)}); ${kube.coldStartApiRequests ?? "?"} API requests (${kinds})`,
    met: kube.coldStartMs <= TARGETS.coldStartMs && (!(versus > TARGETS.coldStartVsFile) || !Number.isFinite(versus)),
  };
}

function agentTargets(agent: AgentPathResult | string, faults: readonly FaultResult[]): TargetCheck[] {
  const names = [
    `agent path: drift observed → first Messages request ≤ ${TARGETS.firstRequestMs} ms p50 (scripted model answering at once)`,
    `agent path: Steward's own time per tool turn ≤ ${TARGETS.turnOwnMs} ms p50 (policy, redaction, audit, status, conversation saved)`,
    `agent path: prompt cache — share of input that would be cache reads on turns ≥ 2 ≥ ${TARGETS.cacheShare * 100} %`,
  ];
  const evidence = evidenceTarget(agent, faults);
  if (typeof agent === "string")
    return [...names.map((target) => ({ target, measured: agent, met: undefined })), evidence];
  const { cache } = agent;
  return [
    {
      target: names[0] ?? "",
      measured: `${ms(agent.firstRequestMs.p50)} p50, ${ms(agent.firstRequestMs.max)} max (${agent.runs} sessions)`,
      met: agent.firstRequestMs.p50 <= TARGETS.firstRequestMs,
    },
    {
      target: names[1] ?? "",
      measured: `${ms(agent.turnOwnMs.p50)} p50, ${ms(agent.turnOwnMs.p90)} p90 over ${agent.turnOwnMs.n} turns (the tools' own runs: ${ms(agent.toolMs.p50)} p50, not counted)`,
      met: agent.turnOwnMs.p50 <= TARGETS.turnOwnMs,
    },
    {
      target: names[2] ?? "",
      measured: `${pct(cache.laterTurnsShare * 100)} over ${cache.laterTurns} requests; first turns of later sessions ${pct(cache.firstTurnsShare * 100)} (system + tools byte-identical)`,
      met: cache.laterTurnsShare >= TARGETS.cacheShare,
    },
    evidence,
  ];
}

/** Evidence per remediation, in tokens (characters / 4), for every scenario that opened one. */
function evidenceTarget(agent: AgentPathResult | string, faults: readonly FaultResult[]): TargetCheck {
  const sizes = faults
    .filter((f) => f.evidenceTokens !== undefined)
    .map((f) => ({ name: f.scenario, tokens: f.evidenceTokens ?? 0 }));
  if (typeof agent !== "string")
    sizes.push({ name: "agent path (stopped container)", tokens: agent.evidenceTokens.max });
  const target = `evidence per remediation ≤ ${TARGETS.evidenceTokens} tokens (characters / 4), every scenario`;
  if (sizes.length === 0) return { target, measured: "not run", met: undefined };
  return {
    target,
    measured: sizes.map((e) => `${e.name}: ${Math.round(e.tokens)}`).join("; "),
    met: sizes.every((e) => e.tokens <= TARGETS.evidenceTokens),
  };
}

/** The scaling curve of one store: the fitted cost per 1,000 DesiredStates and where the targets would be reached. */
export interface CurveFit {
  store: string;
  points: number;
  cpuPerThousand: number;
  cpuIntercept: number;
  rssPerThousandMB: number;
  rssInterceptMB: number;
  /** The largest measured DesiredState count within both steady-state targets. */
  measuredEnvelope: number | undefined;
}

/** Curve rows: 500 containers, one invariant per DesiredState, a shared query. */
export function curveRows(scale: readonly ScaleResult[], store: string): ScaleResult[] {
  return scale
    .filter((r) => r.store === store && r.containers === 500 && r.invariants === r.desiredStates && !r.distinctQueries)
    .sort((a, b) => a.desiredStates - b.desiredStates);
}

export function fitCurves(scale: readonly ScaleResult[]): CurveFit[] {
  return ["file", "kubernetes"].flatMap((store) => {
    const rows = curveRows(scale, store);
    if (rows.length < 2) return [];
    const cpu = linearFit(rows.map((r) => ({ x: r.desiredStates / 1000, y: r.cpuPercentOfOneCore })));
    const rss = linearFit(rows.map((r) => ({ x: r.desiredStates / 1000, y: r.rssMB })));
    const within = rows.filter(
      (r) => r.cpuPercentOfOneCore <= TARGETS.steadyCpuPercent && r.rssMB <= TARGETS.steadyRssMB,
    );
    return [
      {
        store,
        points: rows.length,
        cpuPerThousand: cpu.slope,
        cpuIntercept: cpu.intercept,
        rssPerThousandMB: rss.slope,
        rssInterceptMB: rss.intercept,
        measuredEnvelope: within.at(-1)?.desiredStates,
      },
    ];
  });
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
  "cold start",
  "reconciles/s (start)",
  "start API req",
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
    `${r.invariants}${r.distinctQueries ? " distinct" : ""}`,
    ms(r.coldStartMs),
    num(r.throughputPerSecond),
    r.coldStartApiRequests === undefined ? "—" : String(r.coldStartApiRequests),
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

const AGENT_HEADER = ["figure", "p50", "p90", "max", "n"];
function agentRows(agent: AgentPathResult): string[][] {
  const row = (name: string, s: AgentPathResult["firstRequestMs"], unit = " ms"): string[] => [
    name,
    `${num(s.p50, 0)}${unit}`,
    `${num(s.p90, 0)}${unit}`,
    `${num(s.max, 0)}${unit}`,
    String(s.n),
  ];
  return [
    row("drift observed → first Messages request", agent.firstRequestMs),
    row("Steward's own time per tool turn", agent.turnOwnMs),
    row("the tool's own run (Docker), not counted above", agent.toolMs),
    row("first request, input (characters / 4)", agent.firstRequestTokens, " tokens"),
    row("evidence per remediation (characters / 4)", agent.evidenceTokens, " tokens"),
  ];
}

function agentCacheLine(agent: AgentPathResult): string {
  const { cache } = agent;
  return `prompt cache (simulated from the recorded requests): turns ≥ 2 would read ${pct(cache.laterTurnsShare * 100)} of their input from the cache (${cache.laterTurns} requests); first turns of later sessions ${pct(cache.firstTurnsShare * 100)} (${cache.firstTurns} requests). ${agent.resolved}/${agent.runs} sessions resolved and verified.`;
}

const PEER_HEADER = ["signal", "fault → signal", "Steward / it"];
function peerRows(peer: PeerResult): string[][] {
  return [
    ["Steward's invariant (interval 15 s, for: 5s)", ms(peer.steward), "1.00×"],
    ["alerting rule, for: 5s, then Alertmanager", ms(peer.ruleSameFor), x(ratio(peer.steward, peer.ruleSameFor))],
    [
      "alerting rule, for: 1m (typical), then Alertmanager",
      ms(peer.ruleTypicalFor),
      x(ratio(peer.steward, peer.ruleTypicalFor)),
    ],
  ];
}

const CURVE_HEADER = [
  "store",
  "rows",
  "CPU % per 1,000 DesiredStates",
  "CPU % at 0",
  "RSS MB per 1,000",
  "RSS MB at 0",
  "within targets up to (measured)",
];
function curveTableRows(fits: readonly CurveFit[]): string[][] {
  return fits.map((f) => [
    f.store,
    String(f.points),
    num(f.cpuPerThousand, 2),
    num(f.cpuIntercept, 2),
    num(f.rssPerThousandMB, 0),
    num(f.rssInterceptMB, 0),
    f.measuredEnvelope === undefined ? "none" : `${f.measuredEnvelope} DesiredStates`,
  ]);
}

/** The sections after the scale table, as [title, header, rows, note] for either rendering. */
function extraSections(report: BenchReport): { title: string; header: string[]; rows: string[][]; note: string }[] {
  const sections: { title: string; header: string[]; rows: string[][]; note: string }[] = [];
  const fits = fitCurves(report.scale);
  if (fits.length > 0)
    sections.push({
      title: "Scaling curve (500 containers, one invariant per DesiredState, fitted by least squares)",
      header: CURVE_HEADER,
      rows: curveTableRows(fits),
      note: "",
    });
  if (typeof report.agentPath === "string")
    sections.push({ title: "Agent path", header: [], rows: [], note: `not measured: ${report.agentPath}` });
  else
    sections.push({
      title: "Agent path (scripted model answering at once: Steward's share only)",
      header: AGENT_HEADER,
      rows: agentRows(report.agentPath),
      note: agentCacheLine(report.agentPath),
    });
  if (typeof report.peer === "string")
    sections.push({ title: "Peer baseline", header: [], rows: [], note: `not measured: ${report.peer}` });
  else
    sections.push({
      title: "Peer baseline: frozen member (metric-only), fault → first signal, same fault, same run",
      header: PEER_HEADER,
      rows: peerRows(report.peer),
      note: report.peer.settings,
    });
  return sections;
}

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
  for (const section of extraSections(report)) {
    parts.push(
      [section.title, section.rows.length > 0 ? table(section.header, section.rows) : "", section.note]
        .filter((p) => p !== "")
        .join("\n"),
    );
  }
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
    parts.push(`![steady-state CPU and RSS, and detection, against the number of DesiredStates](${files.svg})`);
  }
  for (const section of extraSections(report)) {
    parts.push(`## ${section.title}`);
    if (section.rows.length > 0) parts.push(markdownTable(section.header, section.rows));
    if (section.note) parts.push(section.note);
  }
  return `${parts.join("\n\n")}\n`;
}
