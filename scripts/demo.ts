/**
 * `npm run demo`: the etcd compose system, Steward on a temporary state dir, a member
 * stopped, Steward bringing it back. Everything is torn down at the end (dockerd stays).
 * Flags: --keep leaves the cluster and state dir for exploring.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { containerState, docker, ensureCluster, teardownCluster } from "./lib/cluster.js";
import { waitFor } from "./lib/wait.js";

const run = promisify(execFile);
const ROOT = new URL("../", import.meta.url).pathname;
const STEWARD = join(ROOT, "bin/steward");
const keep = process.argv.includes("--keep");

function say(text: string): void {
  process.stdout.write(`\n\x1b[1m==> ${text}\x1b[0m\n`);
}

async function steward(stateDir: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(STEWARD, ["--state-dir", stateDir, ...args], { timeout: 30_000 });
  return stdout.trimEnd();
}

async function main(): Promise<void> {
  say("Bringing up the etcd cluster (3 members + Prometheus, compose project 'etcd', 127.0.0.1 only)");
  await ensureCluster();
  process.stdout.write(`${await docker("ps", "--filter", "label=com.docker.compose.project=etcd", "--format", "table {{.Names}}\t{{.Status}}")}\n`);

  const stateDir = await mkdtemp(join(tmpdir(), "steward-demo-"));
  say(`steward apply -f examples/etcd/desired-state.yaml   (state dir ${stateDir})`);
  process.stdout.write(`${await steward(stateDir, "apply", "-f", join(ROOT, "examples/etcd/desired-state.yaml"))}\n`);

  say("steward run --prometheus-url http://127.0.0.1:19090 --log-format text");
  const child = spawn(STEWARD, ["--state-dir", stateDir, "run", "--prometheus-url", "http://127.0.0.1:19090", "--log-format", "text", "--metrics-addr", "127.0.0.1:0"], {
    stdio: ["ignore", "inherit", "pipe"],
  });
  const logs: string[] = [];
  child.stderr.on("data", (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    logs.push(text);
    for (const line of text.split("\n")) {
      if (/simple fix|remediation|running|connection|shutting|stopped/.test(line)) process.stdout.write(`   steward | ${line}\n`);
    }
  });
  try {
    await waitFor(async () => (await steward(stateDir, "get", "ds", "etcd", "-o", "json")).includes('"reason": "AsDeclared"'), 60_000, "etcd to be Ready");
    process.stdout.write(`${await steward(stateDir, "get", "desiredstates")}\n`);

    say("Breaking it: docker stop etcd1");
    const before = Date.now();
    await docker("stop", "-t", "1", "etcd1");
    const stopped = Date.now();
    await waitFor(async () => (await containerState("etcd1")) === "running", 30_000, "etcd1 running again");
    const back = Date.now();
    say(`etcd1 is running again ${back - stopped} ms after docker stop returned (the stop itself took ${stopped - before} ms); no model, zero tokens`);
    await waitFor(async () => (await steward(stateDir, "get", "ds", "etcd", "-o", "json")).includes('"reason": "AsDeclared"'), 30_000, "etcd Ready again");

    say("steward get desiredstates");
    process.stdout.write(`${await steward(stateDir, "get", "desiredstates", "-o", "wide")}\n`);
    say("steward describe desiredstate etcd   (the fix is in status)");
    process.stdout.write(`${await steward(stateDir, "describe", "desiredstate", "etcd")}\n`);
    say("steward get remediations   (none: a stopped container is a simple fix)");
    process.stdout.write(`${await steward(stateDir, "get", "remediations")}\n`);
  } finally {
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
    if (keep) {
      say(`Left running: the cluster (scripts/compose.sh -p etcd -f docker/compose.yaml down -v) and ${stateDir}`);
    } else {
      say("Tearing down the cluster");
      await teardownCluster();
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
