import { spawn, type ChildProcess } from "node:child_process";
import { z } from "zod";
import { errorMessage } from "../errors.js";
import { ok, type ToolDefinition, type ToolEnvironment, type ToolResult } from "./tools.js";

/**
 * The shell tool: one program, as an argv, without a shell. It is contained: the program
 * is one found at start in fixed directories (programs.ts), its PATH is those directories
 * and nothing else of Steward's environment, it runs in a process group of its own, and on
 * timeout or shutdown the whole group gets SIGTERM and, after KILL_GRACE_MS, SIGKILL, so a
 * program that ignores SIGTERM (or leaves children behind) cannot outlive the call. A call
 * that timed out is an error, never a success.
 */

/** How long a program has between SIGTERM and SIGKILL. */
export const KILL_GRACE_MS = 1_000;

export const shell: ToolDefinition<{ argv: string[] }> = {
  name: "shell",
  description:
    "Run one command as an argv array, without a shell (no pipes, redirection, globbing or variables). Every command is checked by the policy; most are denied or need approval. Network destinations must be endpoints Steward knows.",
  input: z.strictObject({
    argv: z
      .array(z.string().max(4_096))
      .min(1)
      .max(64)
      .describe('program and arguments, e.g. ["etcdctl", "--endpoints=http://127.0.0.1:12379", "endpoint", "health"]'),
  }),
  kind: "mutate",
  argv: (i) => i.argv,
  touches: () => [],
  async run(input, env, signal) {
    if (env.dryRun) return ok(`dry run: would run ${JSON.stringify(input.argv)}`);
    // A session stopped (lease lost, shutdown) must not start a program.
    if (signal.aborted)
      return { output: `not run: the session was stopped (${errorMessage(signal.reason)})`, isError: true };
    const [program = "", ...args] = input.argv;
    const resolved = env.programs.resolve(program);
    if (!resolved.ok) return { output: resolved.reason, isError: true };
    const { secrets } = await env.scope(signal);
    return { ...(await runProgram(resolved.path, args, { env, signal })), secrets: [...secrets] };
  },
};

type Stop = "timeout" | "stopped" | "output";

/** Signals the child's whole process group; the group may be gone already. */
function signalGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    // ESRCH: every process of the group has exited.
  }
}

function stopMessage(stop: Stop, env: ToolEnvironment): string {
  switch (stop) {
    case "timeout":
      return `timed out after ${env.timeoutMs} ms: the program was sent SIGTERM, and SIGKILL ${KILL_GRACE_MS} ms later if still running`;
    case "stopped":
      return "stopped: the session ended while the program ran";
    case "output":
      return `more than ${env.outputCapBytes} bytes of output: the program was stopped`;
  }
}

/**
 * Runs the program and resolves (never rejects) with its output, exit code and whether it
 * failed. spawn, never a shell: argv reaches the program exactly as the policy judged it.
 */
function runProgram(
  path: string,
  args: readonly string[],
  run: { env: ToolEnvironment; signal: AbortSignal },
): Promise<ToolResult> {
  const { env, signal } = run;
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let bytes = 0;
    let stopped: Stop | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let child: ChildProcess;
    try {
      child = spawn(path, [...args], {
        shell: false,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        env: { PATH: env.programs.searchPath },
      });
    } catch (e) {
      // spawn throws on an argv it refuses outright (a NUL byte, which the policy's screen rejects first).
      resolve({ output: `[error] ${errorMessage(e)}`, isError: true });
      return;
    }
    const stop = (why: Stop): void => {
      if (stopped) return;
      stopped = why;
      signalGroup(child, "SIGTERM");
      killTimer = setTimeout(() => signalGroup(child, "SIGKILL"), KILL_GRACE_MS);
    };
    const collect =
      (into: Buffer[]) =>
      (chunk: Buffer): void => {
        bytes += chunk.length;
        if (bytes > env.outputCapBytes) stop("output");
        else into.push(chunk);
      };
    child.stdout?.on("data", collect(out));
    child.stderr?.on("data", collect(err));
    const timer = setTimeout(() => stop("timeout"), env.timeoutMs);
    // The session's own deadline for a call aborts with a TimeoutError: that is a timeout too.
    const onAbort = (): void =>
      stop((signal.reason as { name?: unknown } | undefined)?.name === "TimeoutError" ? "timeout" : "stopped");
    signal.addEventListener("abort", onAbort, { once: true });
    const finish = (result: ToolResult): void => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      signal.removeEventListener("abort", onAbort);
      // Whatever the program left running in its group goes with it.
      signalGroup(child, "SIGKILL");
      resolve(result);
    };
    child.on("error", (e) => finish({ output: `[error] ${errorMessage(e)}`, isError: true }));
    child.on("close", (code) => {
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      const output = `${stdout}${stderr ? `\n[stderr]\n${stderr}` : ""}`.trim();
      if (stopped) return finish({ output: `${output}\n[error] ${stopMessage(stopped, env)}`.trim(), isError: true });
      if (code === 0) return finish(ok(output || "(no output)"));
      finish({
        output: `${output}\n[error] exit code ${code ?? "?"}`.trim(),
        isError: true,
        exitCode: code ?? undefined,
      });
    });
  });
}
