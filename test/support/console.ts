import { spawn, type ChildProcess } from "node:child_process";
import { waitFor } from "../../scripts/lib/wait.js";
import { cliEnv, collectLines } from "./steward.js";

const STEWARD = new URL("../../bin/steward", import.meta.url).pathname;

/** `steward console` as a user runs it, on a free loopback port; `loginUrl` is the URL it printed. */
export class ConsoleProcess {
  readonly logs: string[] = [];
  loginUrl = "";
  baseUrl = "";
  private child: ChildProcess | undefined;

  constructor(
    readonly args: string[],
    private readonly env: Record<string, string> = {},
  ) {}

  async start(): Promise<void> {
    const child = spawn(STEWARD, [...this.args, "console", "--addr", "127.0.0.1:0"], {
      env: cliEnv(this.env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    collectLines(child, this.logs);
    const line = await waitFor(
      () => {
        if (child.exitCode !== null)
          throw new Error(`steward console exited ${child.exitCode}: ${this.logs.join(" | ")}`);
        return this.logs.find((l) => /^\s+https?:\/\/\S+\/\?token=\S+$/.test(l));
      },
      30_000,
      `steward console to print its URL (output: ${this.logs.join(" | ")})`,
    );
    this.loginUrl = line.trim();
    this.baseUrl = this.loginUrl.replace(/\/\?token=.*$/, "");
  }

  async stop(): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
}
