/**
 * The soak: Steward against the etcd compose cluster for --duration (default 30m), one
 * random fault every few seconds (stop, kill, pause, remove or SIGSTOP a member, Prometheus
 * stopped or paused, concurrent applies), the scripted fake Messages API as its model. Then
 * a report (docs/soak/) on four properties: no lost records, no duplicate remediations, no
 * duplicate Docker actions, flat memory. Exits 1 when one does not hold.
 *
 *   npm run soak -- --duration 30m [--fault-every 3s-8s] [--out docs/soak]
 *
 * Not in CI (it takes as long as you ask). It uses the shared engines: run it under the
 * e2e lock when tests may run at the same time (flock /tmp/steward-e2e.lock npm run soak).
 */
import { execFile, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { access, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs, promisify } from "node:util";
import { parseDuration } from "../src/api/duration.js";
import type { AgentRemediation } from "../src/api/remediation.js";
import { verifyAuditFile } from "../src/agent/audit.js";
import { containerState, docker, ensureCluster, PROMETHEUS_URL } from "./lib/cluster.js";
import { waitFor } from "./lib/wait.js";
import { soakModel } from "./lib/soak-agent.js";
import {
  duplicateActions,
  flatMemory,
  isOpen,
  lostRecords,
  openedOnStaleObservation,
  overlappingRemediations,
  type ActionCounts,
  type Check,
  type RecordedActions,
} from "./lib/soak-checks.js";
import { FaultInjector, MEMBERS } from "./lib/soak-faults.js";
import { DockerEventCounter, DuplicateWatch, RssSampler } from "./lib/soak-observe.js";
import { tally, writeReport, type SoakReport } from "./lib/soak-report.js";

const ROOT = new URL("../", import.meta.url).pathname;
const STEWARD = `${ROOT}bin/steward`;
const run = promisify(execFile);

interface Options {
  durationMs: number;
  faultEvery: [number, number];
  out: string;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      duration: { type: "string", default: "30m" },
      "fault-every": { type: "string", default: "3s-8s" },
      out: { type: "string", default: join(ROOT, "docs", "soak") },
    },
  });
  const durationMs = parseDuration(values.duration);
  const [min, max] = values["fault-every"].split("-").map((d) => parseDuration(d));
  if (!durationMs || !min || !max || min > max)
    throw new Error("usage: npm run soak -- [--duration 30m] [--fault-every 3s-8s] [--out DIR]");
  return { durationMs, faultEvery: [min, max], out: values.out };
}

const POLICY = `apiVersion: steward.dev/v1alpha1
kind: RemediationPolicy
metadata: {name: soak}
spec:
  rules:
    - {decision: allow, command: "docker ps *"}
    - {decision: allow, command: "docker start *"}
    - {decision: allow, command: "docker restart *"}
    - {decision: deny, command: "docker rm *"}
`;

/** Like examples/etcd, with a small restart budget (so faults reach the agent), mode auto, no cooldown. */
function desiredState(variant: number): string {
  const members = MEMBERS.map((m) => `    - {name: ${m}, healthy: true, restartBudget: {max: 2, window: 1m}}`).join(
    "\n",
  );
  return `apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: etcd, labels: {soak.steward.dev/variant: "${variant}"}}
spec:
  target: {docker: {project: etcd}}
  interval: ${variant % 2 === 0 ? "2s" : "3s"}
  services:
${members}
    - {name: prometheus}
  invariants:
    - {name: all-members-up, query: 'count(up{job="etcd"} == 1)', condition: "== 3", for: 20s, severity: critical}
  remediation:
    simpleFixes: [start, restart]
    agent: {mode: auto, policyRef: soak, maxAttempts: 2}
    cooldown: 0s
`;
}

async function cli(state: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(STEWARD, ["--state-dir", state, ...args], {
      timeout: 60_000,
      env: { ...process.env, ANTHROPIC_API_KEY: "" },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/** Four `steward apply` processes at once, each a different variant of the DesiredState. */
function concurrentApplies(state: string): () => Promise<{ ok: boolean; detail: string }> {
  let round = 0;
  return async () => {
    const variants = [0, 1, 2, 3].map((k) => round * 4 + k);
    round++;
    const results = await Promise.all(
      variants.map(async (v) => {
        const file = join(state, "manifests", `ds-${v % 8}.yaml`);
        await writeFile(file, desiredState(v));
        return cli(state, "apply", "-f", file);
      }),
    );
    const failed = results.filter((r) => r.code !== 0);
    return { ok: failed.length === 0, detail: failed.map((f) => f.stderr.trim()).join("; ") };
  };
}

interface Steward {
  pid: number;
  metrics: string;
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

async function startSteward(state: string, baseURL: string, logPath: string): Promise<Steward> {
  const log = createWriteStream(logPath);
  const child = spawn(
    STEWARD,
    [
      "--state-dir",
      state,
      "run",
      "--prometheus-url",
      PROMETHEUS_URL,
      "--metrics-addr",
      "127.0.0.1:0",
      "--log-format",
      "json",
      "--verify-timeout",
      "20s",
    ],
    {
      env: { ...process.env, ANTHROPIC_API_KEY: "soak-fake-key", ANTHROPIC_BASE_URL: baseURL },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let head = "";
  const onData = (chunk: Buffer): void => {
    log.write(chunk);
    if (head.length < 100_000) head += chunk.toString("utf8");
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const line = await waitFor(
    () => head.split("\n").find((l) => l.includes("steward is running")),
    60_000,
    "steward run to start",
  );
  const metrics = (JSON.parse(line) as { metrics: string }).metrics;
  return {
    pid: child.pid ?? 0,
    metrics,
    exited,
    async stop() {
      child.kill("SIGTERM");
      const code = await Promise.race([exited, sleep(30_000).then(() => "timeout" as const)]);
      if (code === "timeout") child.kill("SIGKILL");
      log.end();
      return code === "timeout" ? null : code;
    },
  };
}

function metric(text: string, name: string): number {
  return text
    .split("\n")
    .filter((l) => l.startsWith(name))
    .reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
}

interface LogFacts {
  fixes: Map<string, ActionCounts>;
  failedFixes: Map<string, ActionCounts>;
  simpleFixes: Record<string, number>;
  opened: string[];
  errorLines: number;
}

/** From Steward's JSON log: its simple fixes (applied or failed) by container, and the remediations it opened. */
async function logFacts(path: string): Promise<LogFacts> {
  const facts: LogFacts = { fixes: new Map(), failedFixes: new Map(), simpleFixes: {}, opened: [], errorLines: 0 };
  for (const line of (await readFile(path, "utf8")).split("\n")) {
    let entry: { level?: string; message?: string; action?: string; subject?: string; remediation?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    if (entry.level === "error") facts.errorLines++;
    if (entry.message === "remediation opened" && entry.remediation) facts.opened.push(entry.remediation);
    if (entry.message !== "simple fix applied" && entry.message !== "simple fix failed") continue;
    const outcome = `${entry.action ?? "?"} ${entry.message === "simple fix applied" ? "applied" : "failed"}`;
    facts.simpleFixes[outcome] = (facts.simpleFixes[outcome] ?? 0) + 1;
    const container = (entry.subject ?? "").replace(/^container\//, "");
    if (entry.action === "start" || entry.action === "restart")
      add(entry.message === "simple fix applied" ? facts.fixes : facts.failedFixes, container, entry.action);
  }
  return facts;
}

function add(map: Map<string, ActionCounts>, container: string, action: "start" | "restart", n = 1): void {
  const counts = map.get(container) ?? { start: 0, restart: 0 };
  counts[action] += n;
  map.set(container, counts);
}

/** Every start/restart on record: Steward's simple fixes, its agent's actions, the injector's own starts. */
function recordedActions(
  facts: LogFacts,
  remediations: readonly AgentRemediation[],
  ownStarts: ReadonlyMap<string, number>,
): RecordedActions {
  const ran = new Map<string, ActionCounts>();
  const failed = new Map<string, ActionCounts>(facts.failedFixes);
  for (const [container, counts] of facts.fixes) {
    add(ran, container, "start", counts.start);
    add(ran, container, "restart", counts.restart);
  }
  for (const action of remediations.flatMap((r) => r.status?.actions ?? [])) {
    const verb = action.tool === "docker_start" ? "start" : action.tool === "docker_restart" ? "restart" : undefined;
    if (!verb || action.decision === "deny") continue;
    add(action.exitCode === undefined || action.exitCode === 0 ? ran : failed, action.command.at(-1) ?? "", verb);
  }
  for (const [container, n] of ownStarts) add(ran, container, "start", n);
  return { ran, failed };
}

async function auditChains(
  state: string,
  remediations: readonly AgentRemediation[],
): Promise<Check<{ name: string; problem: string }[]>> {
  const bad: { name: string; problem: string }[] = [];
  let checked = 0;
  for (const r of remediations.filter((x) => x.status?.sessionId)) {
    const path = join(state, "audit", r.metadata.namespace, `${r.metadata.name}.jsonl`);
    if (
      !(await access(path).then(
        () => true,
        () => false,
      ))
    )
      continue;
    checked++;
    const result = await verifyAuditFile(path);
    if (!result.ok) bad.push({ name: r.metadata.name, problem: `line ${result.line}: ${result.reason}` });
  }
  return { pass: bad.length === 0, summary: `${checked} audit trails verified, ${bad.length} broken`, details: bad };
}

/** After the last fault: undo what Steward cannot, then let it settle (all members back, nothing left open without a reason). */
async function settle(state: string, injector: FaultInjector): Promise<void> {
  await injector.restoreAll();
  for (const name of [...MEMBERS, "prometheus"]) {
    await docker("unpause", name).catch(() => undefined);
    await docker("kill", "--signal", "CONT", name).catch(() => undefined);
  }
  await waitFor(
    async () => {
      const states = await Promise.all([...MEMBERS, "prometheus"].map((m) => containerState(m)));
      const open = JSON.parse((await cli(state, "get", "rem", "-o", "json")).stdout || '{"items":[]}') as {
        items: AgentRemediation[];
      };
      return states.every((s) => s === "running") && open.items.filter(isOpen).length === 0;
    },
    240_000,
    "every member running and no remediation open",
  ).catch((err: unknown) => console.log(`settle: ${String(err)}`));
}

async function main(): Promise<number> {
  const opts = options();
  await ensureCluster();
  const state = await mkdtemp(join(tmpdir(), "steward-soak-"));
  await mkdir(join(state, "manifests"));
  const model = soakModel("etcd");
  const baseURL = await model.start();
  await writeFile(join(state, "manifests", "policy.yaml"), POLICY);
  await writeFile(join(state, "manifests", "ds.yaml"), desiredState(0));
  const applied = await cli(
    state,
    "apply",
    "-f",
    join(state, "manifests", "policy.yaml"),
    "-f",
    join(state, "manifests", "ds.yaml"),
  );
  if (applied.code !== 0) throw new Error(`apply: ${applied.stderr}`);
  const events = new DockerEventCounter();
  events.start("etcd");
  const logPath = join(state, "steward.log");
  const startedAt = new Date();
  const steward = await startSteward(state, baseURL, logPath);
  const rss = new RssSampler();
  rss.start(steward.pid, steward.metrics, 5_000);
  const watch = new DuplicateWatch(state);
  await watch.start();
  const injector = new FaultInjector(concurrentApplies(state));
  console.log(
    `soak: ${opts.durationMs / 60_000} min, state dir ${state}, steward pid ${steward.pid}, metrics ${steward.metrics}`,
  );
  const deadline = Date.now() + opts.durationMs;
  let modelRequests = 0;
  let nextProgress = Date.now() + 60_000;
  while (Date.now() < deadline) {
    await sleep(
      Math.min(deadline - Date.now(), opts.faultEvery[0] + Math.random() * (opts.faultEvery[1] - opts.faultEvery[0])),
    );
    if (Date.now() >= deadline) break;
    await injector.tick(Date.now());
    modelRequests += model.requests.splice(0).length;
    if (Date.now() >= nextProgress) {
      nextProgress += 60_000;
      const remediations = await watch.list();
      console.log(
        `soak: ${((Date.now() - startedAt.getTime()) / 60_000).toFixed(1)} min, ${injector.faults.length} faults, ${remediations.length} remediations (${remediations.filter(isOpen).length} open), RSS ${rss.samples.at(-1)?.rssMB.toFixed(1) ?? "?"} MB`,
      );
    }
  }
  console.log("soak: faults stopped; letting Steward settle");
  await settle(state, injector);
  modelRequests += model.requests.splice(0).length;
  const metricsText = await (await fetch(steward.metrics)).text();
  rss.stop();
  const exitCode = await steward.stop();
  const remediations = await watch.list();
  await watch.close();
  await sleep(2_000);
  events.stop();
  await model.close();
  const facts = await logFacts(logPath);
  const overlaps = overlappingRemediations(remediations, new Date());
  const staleOpenings = openedOnStaleObservation(remediations);
  const report: SoakReport = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    durationS: (Date.now() - startedAt.getTime()) / 1000,
    options: {
      duration: `${opts.durationMs / 60_000}m`,
      faultEvery: `${opts.faultEvery[0] / 1000}s-${opts.faultEvery[1] / 1000}s`,
      stateDir: state,
    },
    verdict: "PASS",
    checks: {
      lostRecords: lostRecords(remediations, metric(metricsText, "steward_remediations_opened_total"), facts.opened),
      duplicateRemediations: {
        pass: overlaps.length === 0 && watch.violations.length === 0,
        summary: `${watch.events} remediation changes watched, ${watch.violations.length} with two open on one fingerprint; ${overlaps.length} overlapping [created, closedAt) pairs in the records; ${staleOpenings.length} opened on an observation older than the previous one's close (not duplicates: never two open at once)`,
        details: { overlaps, live: watch.violations, staleOpenings },
      },
      duplicateActions: duplicateActions(events.counts, recordedActions(facts, remediations, injector.ownStarts)),
      flatMemory: flatMemory(rss.samples),
      auditChains: await auditChains(state, remediations),
      cleanExit: { pass: exitCode === 0, summary: `exit code ${String(exitCode)} after SIGTERM`, details: {} },
    },
    faults: {
      total: injector.faults.length,
      byKind: tally(injector.faults.map((f) => f.kind)),
      failed: injector.faults.filter((f) => !f.ok).length,
      records: injector.faults,
    },
    remediations: {
      total: remediations.length,
      byPhase: tally(remediations.map((r) => r.status?.phase ?? "?")),
      byReason: tally(remediations.map((r) => r.status?.reason ?? r.spec.reason)),
    },
    steward: {
      exitCode,
      simpleFixes: facts.simpleFixes,
      errorLines: facts.errorLines,
      modelRequests,
      metrics: {
        reconcileErrors: metric(metricsText, "steward_reconcile_errors_total"),
        sessionsRuns: metric(metricsText, "steward_agent_session_runs_total"),
        openingsDeferred: metric(metricsText, "steward_remediation_openings_deferred_total"),
      },
    },
    docker: { events: Object.fromEntries(events.actions) },
    rss: rss.samples,
  };
  report.verdict = Object.values(report.checks).every((c) => c.pass) ? "PASS" : "FAIL";
  const path = await writeReport(opts.out, report);
  console.log(await readFile(path, "utf8"));
  console.log(`soak: report ${path}; Steward's log ${logPath}`);
  return report.verdict === "PASS" ? 0 : 1;
}

process.exitCode = await main();
