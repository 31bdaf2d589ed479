/**
 * `npm run demo -- --agent --console`: an incident to watch and approve in `steward console`.
 *
 * With ANTHROPIC_API_KEY, Claude investigates the crash loop of `--agent` (etcd2 recreated
 * with a flag etcd rejects). Without one, a scripted stand-in model answers instead — the
 * soak's operator script (scripts/lib/soak-agent.ts) served by the tests' fake Messages API
 * on 127.0.0.1 — and the incident is a stopped member with simple fixes turned off, so it
 * goes to the agent. The stand-in is labelled as such everywhere it shows: here, and as
 * the model name `scripted-stand-in` in the reasoning chain. Either way the agent runs in
 * approve mode and nothing changes until you press Approve on the page.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { FakeMessagesServer } from "../../test/support/fake-anthropic.js";
import { docker, ensureCluster, makeEtcd2CrashLoop, teardownCluster } from "./cluster.js";
import { soakModel } from "./soak-agent.js";
import { waitFor } from "./wait.js";

const run = promisify(execFile);
const ROOT = new URL("../../", import.meta.url).pathname;
const STEWARD = join(ROOT, "bin/steward");
const TERMINAL = ["Resolved", "Escalated", "Failed", "Cancelled", "Interrupted"];

function say(text: string): void {
  process.stdout.write(`\n\x1b[1m==> ${text}\x1b[0m\n`);
}

async function steward(stateDir: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(STEWARD, ["--state-dir", stateDir, ...args], { timeout: 30_000 });
  return stdout.trimEnd();
}

/** Prints the lines of `steward run` a person watching the demo cares about. */
function relay(child: ChildProcess, prefix: string): void {
  child.stderr?.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (/simple fix|remediation|approval|resolved|escalat|error/i.test(line))
        process.stdout.write(`${prefix}${line}\n`);
    }
  });
}

interface Incident {
  manifest: string;
  env: NodeJS.ProcessEnv;
  runArgs: string[];
  fake?: FakeMessagesServer;
  start(): Promise<void>;
  undo(): Promise<void>;
}

async function incident(stateDir: string): Promise<Incident> {
  const example = join(ROOT, "examples/etcd/desired-state.yaml");
  if (process.env.ANTHROPIC_API_KEY) {
    return {
      manifest: example,
      env: process.env,
      runArgs: [],
      start: makeEtcd2CrashLoop,
      undo: async () => void (await docker("rm", "-f", "etcd2")),
    };
  }
  const fake = soakModel("etcd");
  const baseURL = await fake.start();
  const manifest = join(stateDir, "desired-state.yaml");
  const text = await readFile(example, "utf8");
  await writeFile(manifest, text.replace("simpleFixes: [start, restart]", "simpleFixes: []"));
  return {
    manifest,
    env: { ...process.env, ANTHROPIC_API_KEY: "scripted-stand-in-not-a-key", ANTHROPIC_BASE_URL: baseURL },
    runArgs: ["--model", "scripted-stand-in"],
    fake,
    start: async () => void (await docker("stop", "-t", "1", "etcd1")),
    undo: () => Promise.resolve(),
  };
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
}

async function phaseOf(stateDir: string): Promise<{ name: string; phase: string } | undefined> {
  const list = JSON.parse(await steward(stateDir, "get", "rem", "-o", "json")) as {
    items: { metadata: { name: string }; status?: { phase?: string } }[];
  };
  const first = list.items[0];
  return first && { name: first.metadata.name, phase: first.status?.phase ?? "Pending" };
}

async function followIncident(stateDir: string, url: string): Promise<void> {
  let last = "";
  for (;;) {
    const current = await phaseOf(stateDir);
    if (current && current.phase !== last) {
      last = current.phase;
      say(
        current.phase === "AwaitingApproval"
          ? `${current.name} waits for you: open ${url} and press Approve (or Deny with a reason)`
          : `${current.name}: ${current.phase}`,
      );
      if (TERMINAL.includes(current.phase)) {
        process.stdout.write(`${await steward(stateDir, "describe", "remediation", current.name)}\n`);
        process.stdout.write(
          `${await steward(stateDir, "audit", "verify", current.name).catch((e: Error) => e.message)}\n`,
        );
        return;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

export async function consoleDemo(options: { keep: boolean }): Promise<void> {
  say("Bringing up the etcd cluster");
  await ensureCluster();
  const stateDir = await mkdtemp(join(tmpdir(), "steward-demo-"));
  const plan = await incident(stateDir);
  if (plan.fake)
    say(
      "No ANTHROPIC_API_KEY: the agent is a SCRIPTED STAND-IN, not Claude (canned answers: list the containers, start the stopped one, resolve). Set ANTHROPIC_API_KEY to watch Claude instead.",
    );
  process.stdout.write(`${await steward(stateDir, "apply", "-f", plan.manifest)}\n`);
  const runArgs = [
    "--prometheus-url",
    "http://127.0.0.1:19090",
    "--log-format",
    "text",
    "--metrics-addr",
    "127.0.0.1:0",
  ];
  const runner = spawn(STEWARD, ["--state-dir", stateDir, "run", ...runArgs, ...plan.runArgs], {
    env: plan.env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  relay(runner, "   steward | ");
  const consoleProcess = spawn(STEWARD, ["--state-dir", stateDir, "console"], { stdio: ["ignore", "pipe", "inherit"] });
  const printed: string[] = [];
  consoleProcess.stdout?.on("data", (chunk: Buffer) => printed.push(chunk.toString("utf8")));
  // Ctrl-C at any point ends the demo through the clean-up below, never leaving Steward running.
  const stopped = untilSignal();
  try {
    const url = await waitFor(
      () => /https?:\/\/\S+\?token=\S+/.exec(printed.join(""))?.[0],
      30_000,
      `steward console to print its URL (port 9480 must be free): ${printed.join("")}`,
    );
    say(`The console: ${url}`);
    say(
      plan.fake
        ? "Breaking it: docker stop etcd1 (simple fixes are off in this run)"
        : "Breaking it: etcd2 recreated with a flag etcd rejects (it will crash-loop)",
    );
    await plan.start();
    const ended = await Promise.race([followIncident(stateDir, url).then(() => true), stopped.then(() => false)]);
    if (ended) say(`The console stays open (${url}): look around; Ctrl-C stops it and tears everything down`);
    await stopped;
  } finally {
    runner.kill("SIGTERM");
    consoleProcess.kill("SIGTERM");
    await Promise.all(
      [runner, consoleProcess].map(
        (c) => new Promise((resolve) => (c.exitCode !== null ? resolve(null) : c.once("exit", resolve))),
      ),
    );
    await plan.fake?.close();
    await plan.undo();
    if (!options.keep) await teardownCluster();
  }
}
