import { execFile } from "node:child_process";
import type Dockerode from "dockerode";
import { z } from "zod";
import { errorMessage, StewardError } from "../errors.js";
import type { ContainerSnapshot, PrometheusClient } from "../observe/types.js";
import type { DockerActions, KubernetesActions } from "../act/types.js";
import type { WorkloadObservation } from "../reconcile/workload-drift.js";
import { redactEnv } from "../text/redact.js";

/**
 * The agent's toolset. Each tool declares its input schema (zod: validated before
 * anything runs, and sent to the model as JSON Schema), whether it mutates, and the argv
 * it stands for, so the policy engine judges typed tools and `shell` by the same rules.
 */
export type ToolKind = "read" | "mutate" | "control";

export interface ToolResult {
  output: string;
  isError: boolean;
  exitCode?: number;
  /** Values to redact wherever they appear in the output (a container's env values). */
  secrets?: string[];
}

/** What the Docker tools reach: the engine, the observer's cache and the actions. */
export interface DockerToolAccess {
  client: Dockerode;
  containers: () => readonly ContainerSnapshot[];
  actions: DockerActions;
}

/** What the Kubernetes tools reach: one namespace (the target's), never another. */
export interface KubernetesToolAccess {
  namespace: string;
  /** The namespace's workloads and pods from the observer's cache; undefined until listed. */
  observed: () => WorkloadObservation | undefined;
  actions: KubernetesActions;
}

export interface ToolEnvironment {
  docker?: DockerToolAccess;
  kubernetes?: KubernetesToolAccess;
  prometheus: PrometheusClient | undefined;
  timeoutMs: number;
  outputCapBytes: number;
  dryRun: boolean;
}

export interface ToolDefinition<I> {
  name: string;
  description: string;
  input: z.ZodType<I>;
  kind: ToolKind;
  /** The command line this call stands for, as the policy engine sees it. */
  argv(input: I): string[];
  /**
   * What the call changes, for the "own objects only" rule: container names, or
   * `deployment/web` / `statefulset/db` / `pod/web-1` in the target's namespace.
   */
  touches(input: I): string[];
  run(input: I, env: ToolEnvironment, signal: AbortSignal): Promise<ToolResult>;
}

const ContainerInput = z.strictObject({ container: z.string().min(1).max(253).describe("container name or id") });

export const ok = (output: string, exitCode = 0): ToolResult => ({ output, isError: false, exitCode });

/** The Docker access a Docker tool needs; a session on a Kubernetes target has none. */
function dockerOf(env: ToolEnvironment): DockerToolAccess {
  if (!env.docker) throw new StewardError("this Steward does not observe Docker");
  return env.docker;
}

/** The values of `NAME=value` entries: every one is treated as a secret. */
function envValues(env: readonly string[]): string[] {
  return env.map((entry) => entry.slice(entry.indexOf("=") + 1)).filter((value) => value.length >= 4);
}

export const queryPrometheus: ToolDefinition<{ query: string }> = {
  name: "query_prometheus",
  description:
    "Run a PromQL instant query against the system's Prometheus. Returns one line per series: labels and value.",
  input: z.strictObject({ query: z.string().min(1).max(4_000).describe("PromQL expression") }),
  kind: "read",
  argv: (i) => ["query_prometheus", i.query],
  touches: () => [],
  async run(input, env, signal) {
    if (!env.prometheus) return { output: "no Prometheus is configured for this Steward", isError: true };
    const result = await env.prometheus.query(input.query, signal);
    if (!result.ok) return { output: result.error, isError: true };
    if (result.samples.length === 0) return ok("(no series)");
    return ok(result.samples.map((s) => `${JSON.stringify(s.labels)} ${s.value}`).join("\n"));
  },
};

const dockerPs: ToolDefinition<{ all?: boolean }> = {
  name: "docker_ps",
  description:
    "List containers (like `docker ps`; all: true includes stopped ones) with state, health, exit code, restart count and compose project/service.",
  input: z.strictObject({ all: z.boolean().optional().describe("include stopped containers") }),
  kind: "read",
  argv: (i) => (i.all ? ["docker", "ps", "-a"] : ["docker", "ps"]),
  touches: () => [],
  run(input, env) {
    const rows = dockerOf(env)
      .containers()
      .filter((c) => input.all === true || c.state === "running")
      .map((c) =>
        [
          c.name,
          c.state,
          c.health,
          String(c.exitCode),
          String(c.restartCount),
          c.project ?? "",
          c.service ?? "",
          c.image,
        ].join("\t"),
      );
    return Promise.resolve(ok(["NAME\tSTATE\tHEALTH\tEXIT\tRESTARTS\tPROJECT\tSERVICE\tIMAGE", ...rows].join("\n")));
  },
};

const dockerInspect: ToolDefinition<{ container: string }> = {
  name: "docker_inspect",
  description:
    "Inspect one container: state, health log, restart policy, command, mounts, labels. Environment values are redacted.",
  input: ContainerInput,
  kind: "read",
  argv: (i) => ["docker", "inspect", i.container],
  touches: () => [],
  async run(input, env) {
    const info = await dockerOf(env).client.getContainer(input.container).inspect();
    const secrets = envValues(info.Config.Env ?? []);
    const view = {
      Name: info.Name.replace(/^\//, ""),
      State: info.State,
      RestartCount: info.RestartCount,
      Image: info.Config.Image,
      Cmd: info.Config.Cmd,
      Entrypoint: info.Config.Entrypoint,
      Env: redactEnv(info.Config.Env ?? []),
      Labels: info.Config.Labels,
      Mounts: info.Mounts.map((m) => ({ Source: m.Source, Destination: m.Destination, RW: m.RW })),
      RestartPolicy: info.HostConfig.RestartPolicy,
      NetworkMode: info.HostConfig.NetworkMode,
    };
    return { ...ok(JSON.stringify(view, null, 2)), secrets };
  },
};

const dockerLogs: ToolDefinition<{ container: string; tail?: number }> = {
  name: "docker_logs",
  description: "The last lines of a container's stdout and stderr (tail ≤ 500, default 100).",
  input: ContainerInput.extend({ tail: z.number().int().min(1).max(500).optional() }),
  kind: "read",
  argv: (i) => ["docker", "logs", "--tail", String(i.tail ?? 100), i.container],
  touches: () => [],
  async run(input, env, signal) {
    const docker = dockerOf(env);
    const [lines, info] = await Promise.all([
      docker.actions.logs(input.container, input.tail ?? 100, signal),
      docker.client.getContainer(input.container).inspect({ abortSignal: signal }),
    ]);
    // A program may print its own secrets; the container's env values are redacted wherever they appear.
    return {
      ...ok(lines.length === 0 ? "(no log lines)" : lines.join("\n")),
      secrets: envValues(info.Config.Env ?? []),
    };
  },
};

function containerAction(verb: "start" | "restart"): ToolDefinition<{ container: string }> {
  return {
    name: `docker_${verb}`,
    description: `${verb === "start" ? "Start a stopped" : "Restart a"} container of this DesiredState (like \`docker ${verb}\`). Subject to the policy and, in approve mode, a person's approval.`,
    input: ContainerInput,
    kind: "mutate",
    argv: (i) => ["docker", verb, i.container],
    touches: (i) => [i.container],
    async run(input, env, signal) {
      if (env.dryRun) return ok(`dry run: would run docker ${verb} ${input.container}`);
      const { actions } = dockerOf(env);
      await (verb === "start" ? actions.start(input.container, signal) : actions.restart(input.container, signal));
      return ok(input.container);
    },
  };
}

export const shell: ToolDefinition<{ argv: string[] }> = {
  name: "shell",
  description:
    "Run one command as an argv array, without a shell (no pipes, redirection, globbing or variables). Every command is checked by the policy; most are denied or need approval.",
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
  run(input, env, signal) {
    if (env.dryRun) return Promise.resolve(ok(`dry run: would run ${JSON.stringify(input.argv)}`));
    // execFile with an aborted signal still spawns the process (and then kills it): a session stopped (lease lost, shutdown) must not start one.
    if (signal.aborted)
      return Promise.resolve({
        output: `not run: the session was stopped (${errorMessage(signal.reason)})`,
        isError: true,
      });
    return runArgv(input.argv, env, signal);
  },
};

/**
 * execFile, never a shell: argv reaches the program exactly as the policy judged it. An
 * argv execFile refuses outright (it throws on a NUL byte, which the policy's screen
 * rejects first) is an error result like any other, never a rejected promise.
 */
function runArgv(argv: readonly string[], env: ToolEnvironment, signal: AbortSignal): Promise<ToolResult> {
  const [program = "", ...args] = argv;
  return new Promise((resolve) => {
    const done = (err: Error | null, stdout: string, stderr: string): void => {
      const output = `${stdout}${stderr ? `\n[stderr]\n${stderr}` : ""}`.trim();
      if (!err) return resolve(ok(output || "(no output)"));
      const { code } = err as { code?: unknown };
      resolve({
        output: `${output}\n[error] ${errorMessage(err)}`.trim(),
        isError: true,
        exitCode: typeof code === "number" ? code : undefined,
      });
    };
    try {
      execFile(
        program,
        args,
        {
          shell: false,
          timeout: env.timeoutMs,
          maxBuffer: env.outputCapBytes,
          signal,
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
        },
        done,
      );
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)), "", "");
    }
  });
}

export const resolveTool: ToolDefinition<{ summary: string }> = {
  name: "resolve",
  description:
    "Declare the drift fixed. Steward then re-observes the original signals; it is Resolved only if the drift is really gone.",
  input: z.strictObject({
    summary: z.string().min(1).max(4_000).describe("what was wrong, what you did, and the evidence it is fixed"),
  }),
  kind: "control",
  argv: () => ["resolve"],
  touches: () => [],
  run: (i) => Promise.resolve(ok(i.summary)),
};

export const escalateTool: ToolDefinition<{ reason: string }> = {
  name: "escalate",
  description:
    "Hand the incident to a person: you cannot or may not fix it. Say why and what you found, and what you would do.",
  input: z.strictObject({ reason: z.string().min(1).max(4_000) }),
  kind: "control",
  argv: () => ["escalate"],
  touches: () => [],
  run: (i) => Promise.resolve(ok(i.reason)),
};

// The order is part of the prompt: it must stay identical across incidents so the
// cached prefix (system prompt + tools) is reused.
export const DOCKER_ONLY_TOOLS: readonly ToolDefinition<never>[] = [
  dockerPs,
  dockerInspect,
  dockerLogs,
  containerAction("start"),
  containerAction("restart"),
] as unknown as readonly ToolDefinition<never>[];
