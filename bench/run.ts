/**
 * `npm run bench` (first cut): how fast Steward brings a stopped member back, beside a bare
 * `docker start` of the same container in the same run, and what a reconcile costs with
 * 200 containers in one DesiredState. Prints a table; writes JSON to bench/results/.
 *
 * Recovery is measured on Docker's own clock: State.StartedAt of the new run minus
 * State.FinishedAt of the stopped one, for both paths, so process start-up of this script
 * or of the CLI is not counted on either side.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Dockerode from "dockerode";
import { ensureCluster } from "../scripts/lib/cluster.js";
import { waitFor } from "../scripts/lib/wait.js";
import { etcdDesiredState, writeManifest } from "../test/support/desired-states.js";
import { cli, StewardProcess, tempStateDir } from "../test/support/steward.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const SCALE_CONTAINERS = Number(process.env.BENCH_CONTAINERS ?? 200);
const docker = new Dockerode({ socketPath: "/var/run/docker.sock" });

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

async function deathToStartMs(name: string): Promise<number> {
  const info = await docker.getContainer(name).inspect();
  return Date.parse(info.State.StartedAt) - Date.parse(info.State.FinishedAt);
}

async function waitRunning(name: string, since: number): Promise<void> {
  await waitFor(async () => {
    const info = await docker.getContainer(name).inspect();
    return info.State.Running && Date.parse(info.State.StartedAt) > since;
  }, 30_000, `${name} running again`);
}

async function bareDockerStart(name: string): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const container = docker.getContainer(name);
    await container.stop({ t: 1 });
    await container.start();
    samples.push(await deathToStartMs(name));
    await sleep(1_000);
  }
  return samples;
}

async function stewardRecovery(name: string): Promise<{ samples: number[]; tokens: number }> {
  const state = await tempStateDir();
  const steward = new StewardProcess(state);
  await steward.start();
  try {
    await cli(state, "apply", "-f", await writeManifest(state, "etcd.yaml", etcdDesiredState({ interval: "15s", budget: { max: 100, window: "1m" } })));
    await waitFor(async () => (await cli(state, "get", "ds", "etcd", "-o", "json")).stdout.includes('"AsDeclared"'), 30_000, "etcd Ready");
    const samples: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const before = Date.now();
      await docker.getContainer(name).stop({ t: 1 });
      await waitRunning(name, before);
      samples.push(await deathToStartMs(name));
      await sleep(1_000);
    }
    const remediations = JSON.parse((await cli(state, "get", "rem", "-o", "json")).stdout) as { items: unknown[] };
    if (remediations.items.length > 0) throw new Error("a stopped member opened a remediation; the simple fix path was not taken");
    return { samples, tokens: 0 };
  } finally {
    await steward.stop();
  }
}

interface ProcessSample {
  cpuSeconds: number;
  rssMB: number;
}

async function processSample(pid: number): Promise<ProcessSample> {
  const { readFile } = await import("node:fs/promises");
  const stat = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]?.split(" ") ?? [];
  const ticks = Number(stat[11]) + Number(stat[12]);
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const rssKB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuSeconds: ticks / 100, rssMB: rssKB / 1024 };
}

async function scaleRun(count: number): Promise<Record<string, number>> {
  const project = "bench-scale";
  const names = Array.from({ length: count }, (_, i) => `bench-svc-${i}`);
  await removeProject(project);
  for (const name of names) {
    const container = await docker.createContainer({
      name,
      Image: "steward-demo/etcd:3.4",
      Entrypoint: ["/bin/sleep"],
      Cmd: ["3600"],
      Labels: { "com.docker.compose.project": project, "com.docker.compose.service": name, "steward.test": "true" },
      HostConfig: { NetworkMode: "host" },
    });
    await container.start();
  }
  const state = await tempStateDir();
  const services = names.map((n) => `    - {name: ${n}}`).join("\n");
  const manifest = etcdDesiredState({ name: "scale", members: [] }).replace("project: etcd", `project: ${project}`).replace("    []\n  invariants", `${services}\n  invariants`);
  const steward = new StewardProcess(state);
  await steward.start();
  try {
    const appliedAt = Date.now();
    await cli(state, "apply", "-f", await writeManifest(state, "scale.yaml", manifest));
    await waitFor(async () => (await cli(state, "get", "ds", "scale", "-o", "json")).stdout.includes('"AsDeclared"'), 60_000, "scale Ready");
    const firstReady = Date.now() - appliedAt;
    const pid = steward.pid();
    const start = await processSample(pid);
    await sleep(20_000);
    const end = await processSample(pid);
    const before = Date.now();
    await docker.getContainer(names[Math.floor(count / 2)] ?? "").kill();
    await waitRunning(names[Math.floor(count / 2)] ?? "", before);
    const recovery = await deathToStartMs(names[Math.floor(count / 2)] ?? "");
    const metrics = await (await fetch(`http://${steward.metricsAddress}/metrics`)).text();
    const sum = Number(/steward_reconcile_duration_seconds_sum (\S+)/.exec(metrics)?.[1]);
    const n = Number(/steward_reconcile_duration_seconds_count (\S+)/.exec(metrics)?.[1]);
    return {
      containers: count,
      firstReadyMs: firstReady,
      reconciles: n,
      meanReconcileMs: (sum / n) * 1000,
      steadyCpuPercentOfOneCore: ((end.cpuSeconds - start.cpuSeconds) / 20) * 100,
      rssMB: end.rssMB,
      killToStartMs: recovery,
    };
  } finally {
    await steward.stop();
    await removeProject(project);
  }
}

async function removeProject(project: string): Promise<void> {
  const existing = await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } });
  await Promise.all(existing.map((c) => docker.getContainer(c.Id).remove({ force: true })));
}

async function main(): Promise<void> {
  await ensureCluster();
  const member = "etcd1";
  const bare = await bareDockerStart(member);
  const steward = await stewardRecovery(member);
  const scale = await scaleRun(SCALE_CONTAINERS);
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: (await import("node:os")).cpus().length, node: process.version },
    runs: RUNS,
    recovery: {
      bareDockerStartMs: { median: median(bare), p90: percentile(bare, 90), samples: bare },
      stewardMs: { median: median(steward.samples), p90: percentile(steward.samples, 90), samples: steward.samples },
      ratio: median(steward.samples) / median(bare),
      tokens: steward.tokens,
    },
    scale,
  };
  const rows: [string, string][] = [
    ["stopped member → running, bare docker start (median)", `${median(bare).toFixed(0)} ms`],
    ["stopped member → running, Steward (median)", `${median(steward.samples).toFixed(0)} ms`],
    ["ratio Steward / bare docker start", `${result.recovery.ratio.toFixed(2)}×`],
    ["tokens spent on the stopped member", "0"],
    [`${scale.containers} containers: apply → Ready`, `${scale.firstReadyMs} ms`],
    [`${scale.containers} containers: mean reconcile`, `${scale.meanReconcileMs?.toFixed(1)} ms`],
    [`${scale.containers} containers: kill → started again`, `${scale.killToStartMs} ms`],
    [`${scale.containers} containers: steady CPU (20 s)`, `${scale.steadyCpuPercentOfOneCore?.toFixed(2)} % of one core`],
    [`${scale.containers} containers: RSS`, `${scale.rssMB?.toFixed(0)} MB`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(`\n${"measure".padEnd(width)}   value\n${rows.map(([k, v]) => `${k.padEnd(width)}   ${v}`).join("\n")}\n`);
  const dir = new URL("./results/", import.meta.url).pathname;
  await mkdir(dir, { recursive: true });
  const file = join(dir, `bench-${result.date.replace(/[:.]/g, "-")}.json`);
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(join(dir, "latest.json"), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`\nJSON: ${file}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
