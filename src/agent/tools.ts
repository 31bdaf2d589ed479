import type Dockerode from "dockerode";
import { z } from "zod";
import { StewardError } from "../errors.js";
import { DOCKER_CONTAINER_NAME } from "../api/object-names.js";
import type { ContainerSnapshot, NamespaceView, PrometheusClient } from "../observe/types.js";
import type { DockerActions, KubernetesActions } from "../act/types.js";
import { containerSecretValues } from "../act/docker.js";
import { redactEnv } from "../text/redact.js";
import { readable, resolveReference, type AgentScope, type ScopedObject } from "./ownership.js";
import type { ProgramPaths } from "./programs.js";

/**
 * The agent's toolset. Each tool declares its input schema (zod: validated before
 * anything runs, and sent to the model as JSON Schema), whether it mutates, the argv it
 * stands for, and what it reads or changes, so the policy engine judges typed tools and
 * `shell` by the same rules. A tool resolves every reference again when it runs, against
 * the scope observed then, and sends Docker the full ID it resolved to.
 */
export type ToolKind = "read" | "mutate" | "control";

export interface ToolResult {
  output: string;
  isError: boolean;
  exitCode?: number;
  /** Values to redact wherever they appear in the output (the target's secret values, a container's env). */
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
  /** The whole namespace from the observer's cache; undefined until listed. */
  view: () => NamespaceView | undefined;
  actions: KubernetesActions;
}

export interface ToolEnvironment {
  docker?: DockerToolAccess;
  kubernetes?: KubernetesToolAccess;
  prometheus: PrometheusClient | undefined;
  timeoutMs: number;
  outputCapBytes: number;
  dryRun: boolean;
  /** What the DesiredState owns and may read, observed now (ownership.ts). */
  scope(signal: AbortSignal): Promise<AgentScope>;
  /** The programs `shell` may run, found once at start. */
  programs: ProgramPaths;
}

export interface ToolDefinition<I> {
  name: string;
  description: string;
  input: z.ZodType<I>;
  kind: ToolKind;
  /** The command line this call stands for, as the policy engine sees it. */
  argv(input: I): string[];
  /**
   * What the call changes, as the model names it, for the "own objects only" rule: a
   * container, or `deployment/web` / `statefulset/db` / `pod/web-1` in the target's namespace.
   */
  touches(input: I): string[];
  /** What a read-only call reads, named the same way; each must resolve to an object the scope lets it read. */
  reads?(input: I): string[];
  run(input: I, env: ToolEnvironment, signal: AbortSignal): Promise<ToolResult>;
}

const ContainerInput = z.strictObject({
  container: z
    .string()
    .max(253)
    .regex(DOCKER_CONTAINER_NAME, "a container name ([a-zA-Z0-9][a-zA-Z0-9_.-]+) or a full 64-hex ID")
    .describe("container name or full id"),
});

export const ok = (output: string, exitCode = 0): ToolResult => ({ output, isError: false, exitCode });

/** The Docker access a Docker tool needs; a session on a Kubernetes target has none. */
function dockerOf(env: ToolEnvironment): DockerToolAccess {
  if (!env.docker) throw new StewardError("this Steward does not observe Docker");
  return env.docker;
}

/** The one object `reference` names in the scope observed now, or an error with the policy's reason. */
export async function resolveNow(
  env: ToolEnvironment,
  reference: string,
  need: { access: "change" | "read"; signal: AbortSignal },
): Promise<{ object: ScopedObject; scope: AgentScope }> {
  const scope = await env.scope(need.signal);
  const resolved = resolveReference(scope, reference, need.access);
  if (!resolved.ok) throw new StewardError(resolved.reason);
  return { object: resolved.object, scope };
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
    const secrets = [...(await env.scope(signal)).secrets];
    if (!result.ok) return { output: result.error, isError: true, secrets };
    if (result.samples.length === 0) return ok("(no series)");
    return { ...ok(result.samples.map((s) => `${JSON.stringify(s.labels)} ${s.value}`).join("\n")), secrets };
  },
};

const dockerPs: ToolDefinition<{ all?: boolean }> = {
  name: "docker_ps",
  description:
    "List the target's containers (like `docker ps`; all: true includes stopped ones) with state, health, exit code, restart count and compose project/service.",
  input: z.strictObject({ all: z.boolean().optional().describe("include stopped containers") }),
  kind: "read",
  argv: (i) => (i.all ? ["docker", "ps", "-a"] : ["docker", "ps"]),
  touches: () => [],
  async run(input, env, signal) {
    const scope = await env.scope(signal);
    const rows = dockerOf(env)
      .containers()
      .filter((c) => readable(scope, c.id) && (input.all === true || c.state === "running"))
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
    const table = ["NAME\tSTATE\tHEALTH\tEXIT\tRESTARTS\tPROJECT\tSERVICE\tIMAGE", ...rows].join("\n");
    return { ...ok(table), secrets: [...scope.secrets] };
  },
};

const dockerInspect: ToolDefinition<{ container: string }> = {
  name: "docker_inspect",
  description:
    "Inspect one of the target's containers: state, health log, restart policy, command, mounts, labels. Environment values and secrets are redacted.",
  input: ContainerInput,
  kind: "read",
  argv: (i) => ["docker", "inspect", i.container],
  touches: () => [],
  reads: (i) => [i.container],
  async run(input, env, signal) {
    const { object, scope } = await resolveNow(env, input.container, { access: "read", signal });
    const info = await dockerOf(env).client.getContainer(object.id).inspect({ abortSignal: signal });
    const view = {
      Name: info.Name.replace(/^\//, ""),
      Id: info.Id,
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
    return { ...ok(JSON.stringify(view, null, 2)), secrets: [...scope.secrets, ...containerSecretValues(info)] };
  },
};

const dockerLogs: ToolDefinition<{ container: string; tail?: number }> = {
  name: "docker_logs",
  description: "The last lines of one of the target's containers' stdout and stderr (tail ≤ 500, default 100).",
  input: ContainerInput.extend({ tail: z.number().int().min(1).max(500).optional() }),
  kind: "read",
  argv: (i) => ["docker", "logs", "--tail", String(i.tail ?? 100), i.container],
  touches: () => [],
  reads: (i) => [i.container],
  async run(input, env, signal) {
    const { object, scope } = await resolveNow(env, input.container, { access: "read", signal });
    const docker = dockerOf(env);
    const [lines, info] = await Promise.all([
      docker.actions.logs(object.id, input.tail ?? 100, signal),
      docker.client.getContainer(object.id).inspect({ abortSignal: signal }),
    ]);
    // A program may print its own secrets; the container's secret values are redacted wherever they appear.
    return {
      ...ok(lines.length === 0 ? "(no log lines)" : lines.join("\n")),
      secrets: [...scope.secrets, ...containerSecretValues(info)],
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
      // Resolved again now: what was ours when the call was decided (or approved) may not be any more.
      const { object } = await resolveNow(env, input.container, { access: "change", signal });
      const shown = `${input.container} (ID ${object.id.slice(0, 12)})`;
      if (env.dryRun) return ok(`dry run: would run docker ${verb} ${shown}`);
      const { actions } = dockerOf(env);
      await (verb === "start" ? actions.start(object.id, signal) : actions.restart(object.id, signal));
      return ok(shown);
    },
  };
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
