/**
 * `npm run demo`: the etcd compose system, Steward on a temporary state dir, a member
 * stopped, Steward bringing it back. Everything is torn down at the end (dockerd stays).
 * Flags: --keep leaves the cluster and state dir for exploring; --agent the crash loop with
 * Claude; --agent --console opens `steward console` and leaves the approval to you;
 * --kubernetes the same story on a Kubernetes node (scripts/demo-kubernetes.ts).
 */
import { execFile, spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { kubernetesDemo } from "./demo-kubernetes.js";
import { containerState, docker, ensureCluster, makeEtcd2CrashLoop, teardownCluster } from "./lib/cluster.js";
import { waitFor } from "./lib/wait.js";
import { consoleDemo } from "./lib/console-demo.js";

const run = promisify(execFile);
const ROOT = new URL("../", import.meta.url).pathname;
const STEWARD = join(ROOT, "bin/steward");
const keep = process.argv.includes("--keep");
const agent = process.argv.includes("--agent");
const withConsole = process.argv.includes("--console");
const kubernetes = process.argv.includes("--kubernetes");

function say(text: string): void {
  process.stdout.write(`\n\x1b[1m==> ${text}\x1b[0m\n`);
}

async function steward(stateDir: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(STEWARD, ["--state-dir", stateDir, ...args], { timeout: 30_000 });
  return stdout.trimEnd();
}

/**
 * `npm run demo -- --agent`: a member crash-loops (etcd2 recreated with a flag etcd rejects);
 * Steward spends the restart budget, opens a remediation, and Claude investigates under
 * the default policy in approve mode. The demo approves what Claude asks for, as a person
 * would with `steward approve`, and prints the reasoning chain.
 */
async function agentDemo(): Promise<void> {
  if (!process.env.ANTHROPIC_API_KEY) {
    process.stderr.write(
      "The agent demo calls Claude and needs an API key:\n" +
        "  export ANTHROPIC_API_KEY=<your key>      # optional: STEWARD_MODEL (default claude-sonnet-5-5)\n" +
        "  npm run demo -- --agent\n" +
        "Without a key the remediation stays Pending with reason NoModelConfigured; `npm run demo` shows the simple-fix path,\n" +
        "and `npm run demo -- --agent --console` runs the approval in the web console with a scripted stand-in model.\n",
    );
    process.exitCode = 1;
    return;
  }
  say("Bringing up the etcd cluster");
  await ensureCluster();
  say("Breaking it: etcd2 recreated with a flag etcd rejects (it will crash-loop)");
  await makeEtcd2CrashLoop();
  const stateDir = await mkdtemp(join(tmpdir(), "steward-demo-"));
  process.stdout.write(`${await steward(stateDir, "apply", "-f", join(ROOT, "examples/etcd/desired-state.yaml"))}\n`);
  const child = spawn(
    STEWARD,
    [
      "--state-dir",
      stateDir,
      "run",
      "--prometheus-url",
      "http://127.0.0.1:19090",
      "--log-format",
      "text",
      "--metrics-addr",
      "127.0.0.1:0",
    ],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  try {
    const name = await waitFor(
      async () => {
        const list = JSON.parse(await steward(stateDir, "get", "rem", "-o", "json")) as {
          items: { metadata: { name: string } }[];
        };
        return list.items[0]?.metadata.name;
      },
      120_000,
      "a remediation",
    );
    say(`Remediation ${name} opened; Claude is investigating`);
    for (;;) {
      const rem = JSON.parse(await steward(stateDir, "get", "rem", name, "-o", "json")) as {
        status?: { phase?: string; pendingApproval?: { command: string[] }[] };
      };
      const phase = rem.status?.phase ?? "Pending";
      if (["Resolved", "Escalated", "Failed"].includes(phase)) break;
      if (phase === "AwaitingApproval") {
        say(
          `Claude asks to run: ${rem.status?.pendingApproval?.map((p) => p.command.join(" ")).join("; ")} — approving as a person would`,
        );
        await steward(stateDir, "approve", name, "--as", "demo");
      }
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
    say(`steward describe remediation ${name}`);
    process.stdout.write(`${await steward(stateDir, "describe", "remediation", name)}\n`);
    say(`steward logs ${name}`);
    process.stdout.write(`${await steward(stateDir, "logs", name)}\n`);
    say(`steward audit verify ${name}`);
    process.stdout.write(`${await steward(stateDir, "audit", "verify", name)}\n`);
  } finally {
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
    await docker("rm", "-f", "etcd2");
    if (!keep) await teardownCluster();
  }
}

async function main(): Promise<void> {
  if (agent && withConsole) return consoleDemo({ keep });
  if (agent) return agentDemo();
  if (kubernetes) return kubernetesDemo(keep);
  say("Bringing up the etcd cluster (3 members + Prometheus, compose project 'etcd', 127.0.0.1 only)");
  await ensureCluster();
  process.stdout.write(
    `${await docker("ps", "--filter", "label=com.docker.compose.project=etcd", "--format", "table {{.Names}}\t{{.Status}}")}\n`,
  );

  const stateDir = await mkdtemp(join(tmpdir(), "steward-demo-"));
  say(`steward apply -f examples/etcd/desired-state.yaml   (state dir ${stateDir})`);
  process.stdout.write(`${await steward(stateDir, "apply", "-f", join(ROOT, "examples/etcd/desired-state.yaml"))}\n`);

  say("steward run --prometheus-url http://127.0.0.1:19090 --log-format text");
  const child = spawn(
    STEWARD,
    [
      "--state-dir",
      stateDir,
      "run",
      "--prometheus-url",
      "http://127.0.0.1:19090",
      "--log-format",
      "text",
      "--metrics-addr",
      "127.0.0.1:0",
    ],
    {
      stdio: ["ignore", "inherit", "pipe"],
    },
  );
  const logs: string[] = [];
  child.stderr.on("data", (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    logs.push(text);
    for (const line of text.split("\n")) {
      if (/simple fix|remediation|running|connection|shutting|stopped/.test(line))
        process.stdout.write(`   steward | ${line}\n`);
    }
  });
  try {
    await waitFor(
      async () => (await steward(stateDir, "get", "ds", "etcd", "-o", "json")).includes('"reason": "AsDeclared"'),
      60_000,
      "etcd to be Ready",
    );
    process.stdout.write(`${await steward(stateDir, "get", "desiredstates")}\n`);

    say("Breaking it: docker stop etcd1");
    const before = Date.now();
    await docker("stop", "-t", "1", "etcd1");
    const stopped = Date.now();
    await waitFor(async () => (await containerState("etcd1")) === "running", 30_000, "etcd1 running again");
    const back = Date.now();
    say(
      `etcd1 is running again ${back - stopped} ms after docker stop returned (the stop itself took ${stopped - before} ms); no model, zero tokens`,
    );
    await waitFor(
      async () => (await steward(stateDir, "get", "ds", "etcd", "-o", "json")).includes('"reason": "AsDeclared"'),
      30_000,
      "etcd Ready again",
    );

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
