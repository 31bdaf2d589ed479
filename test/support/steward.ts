import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { waitFor } from "../../scripts/lib/wait.js";

const run = promisify(execFile);
const STEWARD = new URL("../../bin/steward", import.meta.url).pathname;
const CLI_TIMEOUT_MS = 30_000;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (`bin/steward`) as a user would; never throws on a non-zero exit. */
export async function cli(stateDir: string, ...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(STEWARD, ["--state-dir", stateDir, ...args], {
      timeout: CLI_TIMEOUT_MS,
      env: cliEnv(),
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; killed?: boolean; stdout?: string; stderr?: string };
    // Killed by the timeout: say so, or a failing assertion shows an empty stderr.
    const killed = e.killed === true ? `\n(steward ${args.join(" ")} was killed after ${CLI_TIMEOUT_MS} ms)` : "";
    return {
      code: typeof e.code === "number" ? e.code : 1,
      stdout: e.stdout ?? "",
      stderr: `${e.stderr ?? ""}${killed}`,
    };
  }
}

/** The caller's environment without a real API key: tests never reach the real API. */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.ANTHROPIC_API_KEY;
  delete env.ANTHROPIC_BASE_URL;
  return { ...env, ...extra };
}

export async function tempStateDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "steward-e2e-"));
}

/**
 * A `steward run` child process. Its log lines are kept for debugging and for the tests of
 * what logs must not hold (secrets); facts are asserted on status, metrics and Events.
 */
export class StewardProcess {
  readonly logs: string[] = [];
  private child: ChildProcess | undefined;
  metricsAddress = "";

  constructor(
    readonly stateDir: string,
    private readonly extraArgs: string[] = [],
    private readonly env: Record<string, string> = {},
  ) {}

  async start(): Promise<void> {
    const args = [
      "--state-dir",
      this.stateDir,
      "run",
      "--prometheus-url",
      "http://127.0.0.1:19090",
      "--metrics-addr",
      "127.0.0.1:0",
      "--log-format",
      "json",
      "--log-level",
      "debug",
      ...this.extraArgs,
    ];
    const child = spawn(STEWARD, args, { env: cliEnv(this.env), stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    collectLines(child, this.logs);
    const line = await waitFor(
      () => this.logs.find((l) => l.includes("steward is running")),
      30_000,
      `steward run to start (logs: ${this.logs.slice(-5).join(" | ")})`,
    );
    this.metricsAddress = (JSON.parse(line) as { metrics: string }).metrics
      .replace(/^http:\/\//, "")
      .replace(/\/metrics$/, "");
  }

  /** SIGTERM and wait for a clean exit; returns the exit code. */
  async stop(): Promise<number | null> {
    const child = this.child;
    // Already gone: exited (exitCode) or killed by a signal (signalCode, exitCode stays null).
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  /** kill -9: no shutdown code runs; resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await exited;
  }

  pid(): number {
    const pid = this.child?.pid;
    if (pid === undefined) throw new Error("steward run is not running");
    return pid;
  }
}

/** Appends each complete line the child writes to stdout or stderr to `into`. */
export function collectLines(child: ChildProcess, into: string[]): void {
  let buffered = "";
  const onData = (chunk: Buffer): void => {
    buffered += chunk.toString("utf8");
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    into.push(...lines);
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
}
