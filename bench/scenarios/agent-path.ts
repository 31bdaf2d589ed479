/**
 * The agent path, Steward's share only: the scripted Messages API answers at once, so what
 * is measured is Steward's own time. A DesiredState declares the bench's own sleeper
 * containers with simple fixes off; each run stops one, Steward opens a remediation, and
 * the scripted model inspects it, reads its logs, starts it and resolves (verified).
 *
 * - drift → first request: Steward's `drift detected` log line → the first Messages request
 *   of that session arriving at the scripted server (remediation created, session loaded,
 *   prompt and evidence built);
 * - per tool turn: an answer sent → the next request arriving, less the tool's own run (the
 *   audit trail's `tool_result` minus the entry before it): policy, redaction, audit appends
 *   (fsync for changes), status writes, the conversation saved;
 * - prompt cache: what the Messages API's prompt cache would serve, from the recorded
 *   requests (bench/lib/prompt-cache.ts);
 * - evidence: characters / 4 of the remediation's evidence JSON.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { waitFor } from "../../scripts/lib/wait.js";
import type { AgentRemediation } from "../../src/api/remediation.js";
import { writeManifest } from "../../test/support/desired-states.js";
import { FakeMessagesServer, text, toolUse, type ScriptStep } from "../../test/support/fake-anthropic.js";
import { FileStore } from "../../src/store/file/file-store.js";
import { cli, tempStateDir } from "../../test/support/steward.js";
import { BENCH_LABEL, createSleepers, docker, removeBenchContainers } from "../lib/docker.js";
import { cacheShare, type CacheShare } from "../lib/prompt-cache.js";
import { summarize, type Summary } from "../lib/stats.js";
import { BenchSteward } from "../lib/steward.js";
import { BENCH_POLICY } from "./faults.js";

export interface AgentPathResult {
  runs: number;
  resolved: number;
  /** Steward's drift line → the session's first Messages request. */
  firstRequestMs: Summary;
  /** Per tool turn: answer sent → next request, less the tool's own run. */
  turnOwnMs: Summary;
  /** The tools' own runs, for reference (Docker calls). */
  toolMs: Summary;
  cache: CacheShare;
  /** Evidence JSON characters / 4, per remediation. */
  evidenceTokens: Summary;
  /** The first request's input characters / 4 (system, tools and the incident with its evidence). */
  firstRequestTokens: Summary;
}

interface AuditEntry {
  time: string;
  kind: string;
  data: { id?: string };
}

const USAGE = { input_tokens: 2400, output_tokens: 120, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const turn = (say: string, tool: string, input: Record<string, unknown>): ScriptStep => ({
  content: [text(say), toolUse(tool, input)],
  stop_reason: "tool_use",
  usage: USAGE,
});

/** The four turns of one session on `container`. */
function script(container: string): ScriptStep[] {
  return [
    turn(`${container} is not running. Inspecting it.`, "docker_inspect", { container }),
    turn("Exited cleanly; its last lines should say why.", "docker_logs", { container, tail: 20 }),
    turn("Nothing wrong in the logs: it was stopped. Starting it.", "docker_start", { container }),
    {
      content: [toolUse("resolve", { summary: `${container} was stopped; started it again.` })],
      stop_reason: "tool_use",
      usage: USAGE,
    },
  ];
}

function manifest(label: string, names: readonly string[]): string {
  return `apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: agent-path}
spec:
  target: {docker: {selector: {${BENCH_LABEL}: ${label}}}}
  interval: 15s
  services:
${names.map((n) => `    - {name: ${n}, healthy: false}`).join("\n")}
  remediation:
    simpleFixes: []
    agent: {mode: auto, policyRef: bench, maxAttempts: 1}
    cooldown: 0s
`;
}

export async function agentPath(options: {
  runId: string;
  runs: number;
  log: (line: string) => void;
  /** Write a V8 CPU profile of the Steward process here (`--profile`). */
  profileDir?: string;
}): Promise<AgentPathResult> {
  const label = `${options.runId}-agent`;
  const names = await createSleepers(label, `bench-${label}`, { from: 0, to: options.runs });
  const fake = new FakeMessagesServer(names.flatMap(script));
  const state = await tempStateDir();
  const steward = new BenchSteward({
    stateDir: state,
    prometheusUrl: "http://127.0.0.1:9",
    env: { ANTHROPIC_API_KEY: "bench-key-not-secret", ANTHROPIC_BASE_URL: await fake.start() },
    extraArgs: ["--verify-timeout", "30s"],
    cpuProfileDir: options.profileDir,
  });
  try {
    await steward.start();
    const files = [
      await writeManifest(state, "policy.yaml", BENCH_POLICY),
      await writeManifest(state, "ds.yaml", manifest(label, names)),
    ];
    const applied = await cli(state, "apply", ...files.flatMap((f) => ["-f", f]));
    if (applied.code !== 0) throw new Error(`apply failed: ${applied.stderr}`);
    await waitFor(
      async () => (await cli(state, "get", "ds", "agent-path", "-o", "json")).stdout.includes('"AsDeclared"'),
      60_000,
      "agent-path Ready",
    );
    const runs: { drift: number; remediation: AgentRemediation }[] = [];
    // Read in-process, every 200 ms: a CLI process per poll would load the machine being measured.
    const store = new FileStore(state);
    for (const [k, name] of names.entries()) {
      const before = Date.now();
      await docker.getContainer(name).stop({ t: 0 });
      await waitFor(() => fake.requests.length >= 4 * (k + 1), 120_000, `the session on ${name} to take 4 turns`);
      const remediation = await pollFor(
        async () =>
          (await store.list("AgentRemediation")).find(
            (r) => r.spec.drift.some((d) => d.subject === `container/${name}`) && r.status?.phase === "Resolved",
          ),
        60_000,
        `the remediation for ${name} to be Resolved`,
      );
      const drift = steward.detectedAt(`container/${name}`, before - 1_000) ?? Number.NaN;
      runs.push({ drift, remediation });
      options.log(`  agent path: ${name} resolved`);
      await sleep(500);
    }
    return await summarizeRuns(state, fake, runs);
  } finally {
    await steward.stop();
    await fake.close();
    await removeBenchContainers(label);
  }
}

async function summarizeRuns(
  state: string,
  fake: FakeMessagesServer,
  runs: readonly { drift: number; remediation: AgentRemediation }[],
): Promise<AgentPathResult> {
  const first: number[] = [];
  const own: number[] = [];
  const tools: number[] = [];
  const evidence: number[] = [];
  const firstTokens: number[] = [];
  const answered = fake.requests.filter((r) => r.status === 200);
  for (const [k, run] of runs.entries()) {
    const session = answered.slice(4 * k, 4 * k + 4);
    const { namespace, name } = run.remediation.metadata;
    const audit = (await readFile(join(state, "audit", namespace, `${name}.jsonl`), "utf8"))
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as AuditEntry);
    first.push((session[0]?.receivedAt ?? Number.NaN) - run.drift);
    firstTokens.push((session[0]?.rawBody.length ?? Number.NaN) / 4);
    for (let t = 1; t < session.length; t++) {
      const toolRun = toolRunMs(audit, t - 1);
      tools.push(toolRun);
      own.push((session[t]?.receivedAt ?? Number.NaN) - (session[t - 1]?.answeredAt ?? Number.NaN) - toolRun);
    }
    evidence.push(JSON.stringify(run.remediation.spec.drift.map((d) => d.evidence)).length / 4);
  }
  return {
    runs: runs.length,
    resolved: runs.filter((r) => r.remediation.status?.phase === "Resolved").length,
    firstRequestMs: summarize(first),
    turnOwnMs: summarize(own),
    toolMs: summarize(tools),
    cache: cacheShare(answered.map((r) => ({ json: r.json }))),
    evidenceTokens: summarize(evidence),
    firstRequestTokens: summarize(firstTokens),
  };
}

async function pollFor<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

/** The n-th tool call's own run: its `tool_result` entry minus the audit entry just before it. */
function toolRunMs(audit: readonly AuditEntry[], n: number): number {
  const results = audit.map((e, i) => ({ e, i })).filter(({ e }) => e.kind === "tool_result");
  const result = results[n];
  if (!result) return Number.NaN;
  const previous = audit[result.i - 1];
  return previous ? Date.parse(result.e.time) - Date.parse(previous.time) : Number.NaN;
}
