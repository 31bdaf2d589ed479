import { spawn, type ChildProcess } from "node:child_process";
import { waitFor } from "../../scripts/lib/wait.js";
import { cliEnv, collectLines } from "../../test/support/steward.js";
import { sampleProcess, type ProcessSample } from "./proc.js";

/**
 * The launcher benched: this checkout's, or STEWARD_BENCH_BIN's (another checkout's
 * bin/steward, built), to compare a baseline with this build on the same machine.
 */
const STEWARD = process.env.STEWARD_BENCH_BIN ?? new URL("../../bin/steward", import.meta.url).pathname;

export interface BenchStewardOptions {
  stateDir: string;
  prometheusUrl: string;
  logLevel?: "info" | "debug";
  /** Added to the bench's environment (never a real API key unless given here). */
  env?: Record<string, string>;
  extraArgs?: string[];
  /** Write a V8 CPU profile here when Steward exits (node --cpu-prof; not allowed in NODE_OPTIONS). */
  cpuProfileDir?: string;
}

export interface LogLine {
  time: number;
  message: string;
  fields: Record<string, unknown>;
}

/**
 * `steward run` as a child process (the built CLI, metrics on a free loopback port, JSON
 * logs), started under `node` directly so V8 flags can be given. Keeps every log line.
 */
export class BenchSteward {
  readonly logs: string[] = [];
  metricsAddress = "";
  private child: ChildProcess | undefined;

  constructor(private readonly options: BenchStewardOptions) {}

  async start(): Promise<void> {
    const { options } = this;
    const node = options.cpuProfileDir ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfileDir}`] : [];
    const args = [
      ...node,
      STEWARD,
      "--state-dir",
      options.stateDir,
      "run",
      "--prometheus-url",
      options.prometheusUrl,
      "--metrics-addr",
      "127.0.0.1:0",
      "--log-format",
      "json",
      "--log-level",
      options.logLevel ?? "info",
      ...(options.extraArgs ?? []),
    ];
    const child = spawn(process.execPath, args, { env: cliEnv(options.env), stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    collectLines(child, this.logs);
    const line = await waitFor(
      () => {
        if (child.exitCode !== null)
          throw new Error(`steward run exited with ${child.exitCode}: ${this.logs.slice(-5).join(" | ")}`);
        return this.logs.find((l) => l.includes("steward is running"));
      },
      60_000,
      "steward run to start",
    );
    this.metricsAddress = (JSON.parse(line) as { metrics: string }).metrics
      .replace(/^http:\/\//, "")
      .replace(/\/metrics$/, "");
  }

  /** SIGTERM and wait for the clean exit (which is when --cpu-prof writes its profile). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(timer);
  }

  get pid(): number {
    const pid = this.child?.pid;
    if (pid === undefined) throw new Error("steward run is not running");
    return pid;
  }

  sample(): Promise<ProcessSample> {
    return sampleProcess(this.pid);
  }

  async metrics(): Promise<string> {
    const response = await fetch(`http://${this.metricsAddress}/metrics`, { signal: AbortSignal.timeout(10_000) });
    return response.text();
  }

  /** Log lines (JSON) whose message is `message`, optionally with a field equal to a value. */
  lines(message: string, field?: [string, unknown]): LogLine[] {
    const found: LogLine[] = [];
    for (const raw of this.logs) {
      if (!raw.includes(message)) continue;
      const line = parseLogLine(raw);
      if (line?.message !== message) continue;
      if (field && line.fields[field[0]] !== field[1]) continue;
      found.push(line);
    }
    return found;
  }

  /** When Steward first logged `drift detected` for `subject` at or after `since` (ms); undefined if not yet. */
  detectedAt(subject: string, since: number): number | undefined {
    return this.lines("drift detected", ["subject", subject]).find((l) => l.time >= since)?.time;
  }
}

export function parseLogLine(raw: string): LogLine | undefined {
  try {
    const json = JSON.parse(raw) as Record<string, unknown>;
    const time = typeof json.timestamp === "string" ? Date.parse(json.timestamp) : Number.NaN;
    if (typeof json.message !== "string" || !Number.isFinite(time)) return undefined;
    return { time, message: json.message, fields: json };
  } catch {
    return undefined;
  }
}
