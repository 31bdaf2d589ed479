/**
 * Fault scenarios on the shared etcd compose cluster (project `etcd`), each against a fresh
 * `steward run` on its own state dir, and the baselines for the same faults in the same
 * run. Every scenario ends with ensureCluster(), so the cluster is left as it was found.
 *
 * Times are on one clock: the fault's moment is Docker's FinishedAt where Docker records
 * one (a stop, a crash), else when the bench injected it; detection is Steward's
 * `drift detected` log line; recovery is the container's new StartedAt (simple fixes) or
 * the remediation's verified close (agent).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { docker as dockerCli, ensureCluster, PROMETHEUS_URL } from "../../scripts/lib/cluster.js";
import { waitFor } from "../../scripts/lib/wait.js";
import type { AgentRemediation } from "../../src/api/remediation.js";
import { etcdDesiredState, writeManifest } from "../../test/support/desired-states.js";
import { FakeMessagesServer, text, toolTurns, toolUse, type ScriptStep } from "../../test/support/fake-anthropic.js";
import { listRemediations } from "../../test/support/status.js";
import { cli, tempStateDir } from "../../test/support/steward.js";
import { crash, docker, downtimeMs, signalMain, times, waitRestarted } from "../lib/docker.js";
import { summarize, type Summary } from "../lib/stats.js";
import { BenchSteward } from "../lib/steward.js";

export type RecoveryPath = "simple fix" | "agent" | "escalated" | "none" | "docker" | "poller";

export interface FaultResult {
  scenario: string;
  fault: string;
  /** Who acted: Steward, or the baseline's mechanism. */
  actor: string;
  runs: number;
  detectMs: Summary;
  recoverMs: Summary;
  path: RecoveryPath;
  agentSteps: number;
  tokens: number;
  costUSD: number;
  outcome: string;
  /** Model: "scripted" (the fake Messages API) or the real model's name. */
  model?: string;
  /** Agent scenarios: the remediation's evidence, characters / 4 of its JSON. */
  evidenceTokens?: number;
}

export interface FaultOptions {
  runs: number;
  log: (line: string) => void;
  /** Set: a real Claude answers the agent scenarios. */
  anthropicApiKey?: string;
}

const MEMBER = "etcd1";
export const BENCH_POLICY = `apiVersion: steward.dev/v1alpha1
kind: RemediationPolicy
metadata: {name: bench}
spec:
  rules:
    - {decision: deny, command: "docker rm *"}
    - {decision: allow, command: "docker ps *"}
    - {decision: allow, command: "docker inspect *"}
    - {decision: allow, command: "docker logs *"}
    - {decision: allow, command: "docker start *"}
    - {decision: allow, command: "docker restart *"}
  budgets: {maxTurns: 12, maxToolCalls: 20, maxMutations: 3, maxCostUSD: 1, maxDuration: 5m}
`;

/** Steward on a fresh state dir with `manifests` applied, and the DesiredState "etcd" Ready. */
async function startSteward(
  manifests: string[],
  env: Record<string, string> = {},
  extraArgs: string[] = [],
): Promise<{ steward: BenchSteward; state: string }> {
  const state = await tempStateDir();
  const steward = new BenchSteward({ stateDir: state, prometheusUrl: PROMETHEUS_URL, env, extraArgs });
  await steward.start();
  const files = await Promise.all(manifests.map((m, i) => writeManifest(state, `m${i}.yaml`, m)));
  const applied = await cli(state, "apply", ...files.flatMap((f) => ["-f", f]));
  if (applied.code !== 0) throw new Error(`apply failed: ${applied.stderr}`);
  await waitFor(
    async () => (await cli(state, "get", "ds", "etcd", "-o", "json")).stdout.includes('"AsDeclared"'),
    60_000,
    "etcd Ready",
  );
  return { steward, state };
}

function recoveredRow(
  base: Omit<FaultResult, "detectMs" | "recoverMs" | "runs" | "agentSteps" | "tokens" | "costUSD">,
  detect: number[],
  recover: number[],
): FaultResult {
  return {
    ...base,
    runs: recover.length,
    detectMs: summarize(detect),
    recoverMs: summarize(recover),
    agentSteps: 0,
    tokens: 0,
    costUSD: 0,
  };
}

/** Stopped member (`docker stop`) and crashed member (SIGKILL from the host): Steward's simple fix, zero tokens. */
export async function stewardSimpleFixes(options: FaultOptions): Promise<FaultResult[]> {
  await ensureCluster();
  const { steward, state } = await startSteward([
    etcdDesiredState({ interval: "15s", budget: { max: 1000, window: "1m" } }),
  ]);
  const rows: FaultResult[] = [];
  try {
    for (const fault of ["stop", "crash"] as const) {
      const detect: number[] = [];
      const recover: number[] = [];
      for (let i = 0; i < options.runs; i++) {
        const before = Date.now();
        if (fault === "stop") await docker.getContainer(MEMBER).stop({ t: 1 });
        else await crash(MEMBER);
        const t = await waitRestarted(MEMBER, before);
        const seen = await waitFor(
          () => steward.detectedAt(`container/${MEMBER}`, before - 1_000),
          10_000,
          "drift detected",
        );
        detect.push(seen - t.finishedAt);
        recover.push(downtimeMs(t));
        await sleep(1_500);
      }
      const remediations = await listRemediations(state);
      rows.push(
        recoveredRow(
          {
            scenario: fault === "stop" ? "stopped member" : "crashed member",
            fault: fault === "stop" ? `docker stop -t 1 ${MEMBER}` : `SIGKILL to ${MEMBER}'s process`,
            actor: "Steward",
            path: remediations.length === 0 ? "simple fix" : "agent",
            outcome: `running again ${recover.length}/${options.runs}; ${remediations.length} remediations`,
          },
          detect,
          recover,
        ),
      );
      options.log(`  Steward, ${fault}: p50 ${summarize(recover).p50} ms`);
    }
  } finally {
    await steward.stop();
    await ensureCluster();
  }
  return rows;
}

/** The fastest a script can do: `docker start` the moment `docker stop` returns. */
export async function bareDockerStart(options: FaultOptions): Promise<FaultResult> {
  await ensureCluster();
  const recover: number[] = [];
  for (let i = 0; i < options.runs; i++) {
    const container = docker.getContainer(MEMBER);
    await container.stop({ t: 1 });
    await container.start();
    recover.push(downtimeMs(await times(MEMBER)));
    await sleep(1_500);
  }
  options.log(`  bare docker start: p50 ${summarize(recover).p50} ms`);
  return recoveredRow(
    {
      scenario: "stopped member",
      fault: `docker stop -t 1 ${MEMBER}`,
      actor: "bare docker start",
      path: "none",
      outcome: "oracle: starts at once",
    },
    [],
    recover,
  );
}

/**
 * Docker's own `restart: always`, set on the member for the run (`docker update`) and put
 * back to the compose file's "no" after. Crashes are 11 s apart: Docker doubles its restart
 * delay (from 100 ms) for a container that ran less than 10 s, and the bench measures the
 * first restart each time.
 */
export async function dockerRestartPolicy(options: FaultOptions): Promise<FaultResult> {
  await ensureCluster();
  const recover: number[] = [];
  await dockerCli("update", "--restart", "always", MEMBER);
  try {
    for (let i = 0; i < options.runs; i++) {
      if (i > 0) await sleep(11_000);
      const before = await crash(MEMBER);
      recover.push(downtimeMs(await waitRestarted(MEMBER, before)));
    }
  } finally {
    await dockerCli("update", "--restart", "no", MEMBER);
    await ensureCluster();
  }
  options.log(`  restart: always: p50 ${summarize(recover).p50} ms`);
  return recoveredRow(
    {
      scenario: "crashed member",
      fault: `SIGKILL to ${MEMBER}'s process`,
      actor: "Docker restart: always",
      path: "docker",
      outcome: "restarted by dockerd",
    },
    [],
    recover,
  );
}

/** A 1 s polling monitor: list the containers every second, start the member if it is not running. */
export async function pollingMonitor(options: FaultOptions): Promise<FaultResult> {
  await ensureCluster();
  const stop = new AbortController();
  const poller = (async (): Promise<void> => {
    while (!stop.signal.aborted) {
      const [c] = await docker.listContainers({ all: true, filters: { name: [`^/${MEMBER}$`] } });
      if (c && c.State === "exited")
        await docker
          .getContainer(c.Id)
          .start()
          .catch(() => undefined);
      await sleep(1_000, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  })();
  const recover: number[] = [];
  try {
    for (let i = 0; i < options.runs; i++) {
      // Crash at a random phase of the poll, as real failures come.
      await sleep(500 + Math.random() * 1_000);
      const before = await crash(MEMBER);
      recover.push(downtimeMs(await waitRestarted(MEMBER, before)));
    }
  } finally {
    stop.abort();
    await poller;
    await ensureCluster();
  }
  options.log(`  1 s poller: p50 ${summarize(recover).p50} ms`);
  return recoveredRow(
    {
      scenario: "crashed member",
      fault: `SIGKILL to ${MEMBER}'s process`,
      actor: "1 s polling monitor",
      path: "poller",
      outcome: "restarted by the poller",
    },
    [],
    recover,
  );
}

interface AgentRun {
  remediation: AgentRemediation;
  detectMs: number;
  recoverMs: number;
  steps: number;
}

const USAGE = { input_tokens: 2400, output_tokens: 180, cache_read_input_tokens: 1800, cache_creation_input_tokens: 0 };
const reply = toolTurns(USAGE);
const turn = (say: string, tool: string, input: Record<string, unknown>): ScriptStep =>
  reply(text(say), toolUse(tool, input));

/**
 * One agent scenario: Steward with the bench policy in auto mode, the scripted model (or a
 * real Claude), `inject` breaks the cluster, and the run ends when the remediation closes.
 */
async function agentScenario(
  options: FaultOptions,
  spec: {
    script: ScriptStep[];
    manifest: string;
    subject: string;
    inject: () => Promise<number>;
    restore?: () => Promise<void>;
  },
): Promise<AgentRun & { model: string }> {
  await ensureCluster();
  const fake = options.anthropicApiKey ? undefined : new FakeMessagesServer(spec.script);
  const env: Record<string, string> = fake
    ? { ANTHROPIC_API_KEY: "bench-key-not-secret", ANTHROPIC_BASE_URL: await fake.start() }
    : { ANTHROPIC_API_KEY: options.anthropicApiKey ?? "" };
  const { steward, state } = await startSteward([BENCH_POLICY, spec.manifest], env, ["--verify-timeout", "30s"]);
  try {
    const injectedAt = await spec.inject();
    const remediation = await waitFor(
      async () => {
        const [r] = await listRemediations(state);
        return r && ["Resolved", "Escalated", "Failed"].includes(r.status?.phase ?? "") ? r : undefined;
      },
      180_000,
      `the remediation for ${spec.subject} to close`,
    );
    // Detected: when Steward judged it an incident and opened the remediation.
    const detectedAt = Date.parse(remediation.status?.openedAt ?? remediation.metadata.creationTimestamp ?? "");
    const audit = await readFile(
      join(state, "audit", remediation.metadata.namespace, `${remediation.metadata.name}.jsonl`),
      "utf8",
    ).catch(() => "");
    const steps = audit.split("\n").filter((l) => l.includes('"kind":"model_usage"')).length;
    const closedAt = Date.parse(remediation.status?.verifiedAt ?? remediation.status?.closedAt ?? "");
    return {
      remediation,
      detectMs: detectedAt - injectedAt,
      recoverMs: closedAt - injectedAt,
      steps,
      model: fake ? "scripted" : "claude",
    };
  } finally {
    await steward.stop();
    await fake?.close();
    await spec.restore?.().catch(() => undefined);
    await ensureCluster();
  }
}

function agentRow(scenario: string, fault: string, run: AgentRun & { model: string }): FaultResult {
  const phase = run.remediation.status?.phase ?? "?";
  const usage = run.remediation.status?.usage;
  const resolved = phase === "Resolved";
  return {
    scenario,
    fault,
    actor: "Steward",
    runs: 1,
    detectMs: summarize([run.detectMs]),
    recoverMs: summarize(resolved ? [run.recoverMs] : []),
    path: resolved ? "agent" : "escalated",
    agentSteps: run.steps,
    tokens:
      (usage?.inputTokens ?? 0) +
      (usage?.outputTokens ?? 0) +
      (usage?.cacheReadTokens ?? 0) +
      (usage?.cacheWriteTokens ?? 0),
    costUSD: usage?.estimatedCostUSD ?? 0,
    outcome: `${phase}${run.remediation.spec.reason ? ` (${run.remediation.spec.reason})` : ""}`,
    model: run.model,
    evidenceTokens: JSON.stringify(run.remediation.spec.drift.map((d) => d.evidence)).length / 4,
  };
}

/**
 * etcd1 crash-looping: killed (SIGKILL) 300 ms after every start, as an OOM killer or a bad
 * sidecar would. Steward restarts it until the restart budget (3) is spent, then opens a
 * remediation; the scripted agent reads the logs, finds nothing inside the container to
 * fix, and escalates.
 */
export async function crashLoop(options: FaultOptions): Promise<FaultResult> {
  const killer = new AbortController();
  const run = await agentScenario(options, {
    manifest: etcdDesiredState({
      interval: "15s",
      budget: { max: 3, window: "10m" },
      agent: { mode: "auto", policyRef: "bench", maxAttempts: 1 },
      cooldown: "0s",
    }),
    subject: `container/${MEMBER}`,
    script: [
      turn("etcd1 keeps dying. Its logs should say why.", "docker_logs", { container: MEMBER, tail: 20 }),
      turn(
        "Exit code 137 without an OOM flag and nothing in the logs: something outside the container kills it.",
        "escalate",
        {
          reason:
            "etcd1 is SIGKILLed shortly after every start (exit 137, not OOM, clean logs); find what kills it before restarting it again.",
        },
      ),
    ],
    inject: async () => {
      const first = await crash(MEMBER);
      void (async (): Promise<void> => {
        let since = first;
        while (!killer.signal.aborted) {
          const t = await waitRestarted(MEMBER, since, 60_000).catch(() => undefined);
          if (!t || killer.signal.aborted) return;
          await sleep(300);
          since = await crash(MEMBER).catch(() => Date.now());
        }
      })();
      return first;
    },
    restore: () => Promise.resolve(killer.abort()),
  });
  return agentRow("crash-looping member", `SIGKILL to ${MEMBER} 300 ms after every start`, run);
}

/** etcd1 removed (`docker rm -f`): no simple fix; the agent cannot recreate it within policy and escalates. */
export async function removedMember(options: FaultOptions): Promise<FaultResult> {
  const run = await agentScenario(options, {
    manifest: etcdDesiredState({
      interval: "15s",
      agent: { mode: "auto", policyRef: "bench", maxAttempts: 1 },
      cooldown: "0s",
    }),
    subject: `service/${MEMBER}`,
    script: [
      turn("The etcd1 service has no container. Listing all containers.", "docker_ps", { all: true }),
      turn("etcd1 is gone, not stopped; recreating it is a compose operation outside my tools.", "escalate", {
        reason:
          "etcd1's container was removed; run `docker compose -p etcd up -d etcd1` to recreate it from its volume.",
      }),
    ],
    inject: async () => {
      const at = Date.now();
      await dockerCli("rm", "-f", MEMBER);
      return at;
    },
  });
  return agentRow("removed member", `docker rm -f ${MEMBER}`, run);
}

/**
 * etcd1 frozen with SIGSTOP: Docker still says "running", so only the metric invariant
 * (every member scraped) sees it. The agent restarts it (Docker's stop timeout, 10 s, passes
 * first: the frozen process ignores SIGTERM until SIGKILL).
 */
export async function frozenMember(options: FaultOptions): Promise<FaultResult> {
  const invariants = `    - name: all-members-up
      query: count(up{job="etcd"} == 1)
      condition: "== 3"
      for: 5s
      severity: critical
`;
  const run = await agentScenario(options, {
    manifest: etcdDesiredState({
      interval: "15s",
      invariants,
      agent: { mode: "auto", policyRef: "bench", maxAttempts: 1 },
      cooldown: "0s",
    }),
    subject: "invariant/all-members-up",
    script: [
      turn("Fewer than three members are scraped. Which one is down?", "query_prometheus", { query: 'up{job="etcd"}' }),
      turn("etcd1 is running in Docker but does not answer scrapes: it is hung. Restarting it.", "docker_restart", {
        container: MEMBER,
      }),
      turn("Restarted. Checking the scrape again.", "query_prometheus", { query: 'count(up{job="etcd"} == 1)' }),
      reply(
        toolUse("resolve", {
          summary: "etcd1 was hung (running but not answering); restarted it; all three members scraped again.",
        }),
      ),
    ],
    inject: async () => {
      const at = Date.now();
      await signalMain(MEMBER, "SIGSTOP");
      return at;
    },
    restore: () => signalMain(MEMBER, "SIGCONT"),
  });
  return agentRow("frozen member (metric-only)", `SIGSTOP to ${MEMBER}'s process`, run);
}

/**
 * Prometheus, the scrape source every invariant reads, stopped: the invariants must go
 * Unknown, not Violated (no remediation, no tokens), and Prometheus, a declared service,
 * is started again by a simple fix.
 */
export async function prometheusDown(options: FaultOptions): Promise<FaultResult> {
  await ensureCluster();
  const manifest = etcdDesiredState({
    interval: "15s",
    members: ["etcd0", "etcd1", "etcd2", "prometheus"],
    invariants: `    - name: all-members-up
      query: count(up{job="etcd"} == 1)
      condition: "== 3"
      for: 5s
`,
    budget: { max: 1000, window: "1m" },
  });
  const { steward, state } = await startSteward([manifest]);
  const detect: number[] = [];
  const recover: number[] = [];
  const ready: number[] = [];
  try {
    for (let i = 0; i < options.runs; i++) {
      const before = Date.now();
      await docker.getContainer("prometheus").stop({ t: 1 });
      const t = await waitRestarted("prometheus", before);
      detect.push(
        (await waitFor(() => steward.detectedAt("container/prometheus", before - 1_000), 10_000, "drift detected")) -
          t.finishedAt,
      );
      recover.push(downtimeMs(t));
      // Ready again once an evaluation (every interval) finds the invariant holding on the fresh Prometheus.
      await waitFor(
        async () => (await cli(state, "get", "ds", "etcd", "-o", "json")).stdout.includes('"AsDeclared"'),
        60_000,
        "etcd Ready again",
      );
      ready.push(Date.now() - t.finishedAt);
      await sleep(1_500);
    }
    const remediations = await listRemediations(state);
    return recoveredRow(
      {
        scenario: "Prometheus down",
        fault: "docker stop -t 1 prometheus",
        actor: "Steward",
        path: remediations.length === 0 ? "simple fix" : "agent",
        outcome: `running again ${recover.length}/${options.runs}; DesiredState Ready again after ${Math.round(summarize(ready).p50)} ms (p50, next evaluation); ${remediations.length} remediations`,
      },
      detect,
      recover,
    );
  } finally {
    await steward.stop();
    await ensureCluster();
  }
}
