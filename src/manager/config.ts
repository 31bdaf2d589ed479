import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { z } from "zod";
import { formatIssues } from "../api/load.js";
import { parseDuration } from "../api/duration.js";
import { ValidationError } from "../errors.js";

/** A Kubernetes object or namespace name (RFC 1123 subdomain). */
const DNS_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/**
 * The effective configuration of `steward run`, read once from flags and environment,
 * validated, logged at start and passed in. Nothing reads the environment elsewhere.
 */
export const RunConfig = z.object({
  store: z.enum(["file", "kubernetes"]),
  /** What Steward observes and acts on: Docker containers, Kubernetes workloads, or both. */
  targets: z.array(z.enum(["docker", "kubernetes"])).min(1),
  stateDir: z.string().min(1),
  prometheusUrl: z.string().url().optional(),
  /** Off by default: Steward talks only to a loopback Prometheus unless told otherwise. */
  prometheusAllowRemote: z.boolean(),
  metricsAddr: z.string().min(1),
  logFormat: z.enum(["json", "text"]),
  logLevel: z.enum(["error", "warn", "info", "debug"]),
  workers: z.number().int().min(1).max(64),
  reconcileTimeoutMs: z.number().int().positive(),
  modelConfigured: z.boolean(),
  /** Never logged: `loggableConfig` drops it. */
  anthropicApiKey: z.string().optional(),
  anthropicBaseUrl: z.string().url().optional(),
  model: z.string().min(1),
  maxSessions: z.number().int().min(1).max(32),
  verifyTimeoutMs: z.number().int().nonnegative(),
  /** Remediations opened per minute across every DesiredState (a token bucket, a minute's worth of burst); 0: no limit. */
  maxOpeningsPerMinute: z.number().int().min(0).max(10_000),
  /** Consecutive failed agent sessions (escalated, or the API failed) that open the circuit breaker; 0: off. */
  breakerThreshold: z.number().int().min(0).max(1_000),
  /** How long the open breaker starts no session before one probe. */
  breakerOpenForMs: z.number().int().positive(),
  /** Only the holder of this Lease acts (kubernetes store); undefined: this process always acts. */
  leaderElection: z
    .object({
      leaseName: z.string().regex(DNS_NAME, "expected a DNS name like steward"),
      leaseNamespace: z.string().regex(DNS_NAME, "expected a namespace name"),
      identity: z.string().min(1),
    })
    .optional(),
  /** The kubernetes store lists and watches only this namespace; all namespaces when unset. */
  watchNamespace: z.string().regex(DNS_NAME, "expected a namespace name").optional(),
});
export type RunConfig = z.infer<typeof RunConfig>;

export const DEFAULT_METRICS_ADDR = "127.0.0.1:9477";

export interface RunFlags {
  stateDir: string;
  store?: string;
  targets?: string;
  prometheusUrl?: string;
  prometheusAllowRemote?: string;
  metricsAddr?: string;
  logFormat?: string;
  logLevel?: string;
  workers?: string;
  reconcileTimeout?: string;
  model?: string;
  maxSessions?: string;
  verifyTimeout?: string;
  maxOpeningsPerMinute?: string;
  breakerThreshold?: string;
  breakerOpenFor?: string;
  leaderElect?: string;
  leaseName?: string;
  leaseNamespace?: string;
  watchNamespace?: string;
}

/**
 * The default model: a current Claude Sonnet from the SDK's model list. Not
 * claude-sonnet-4-5, which the SDK says reaches end of life on 2026-11-30.
 */
export const DEFAULT_MODEL = "claude-sonnet-5-5";

/** Each setting: its flag, its environment variable, its default. Flags win over env. */
const SETTINGS = {
  store: ["STEWARD_STORE", "file"],
  // "auto": Docker always, Kubernetes workloads too when the store is kubernetes.
  targets: ["STEWARD_TARGETS", "auto"],
  prometheusUrl: ["STEWARD_PROMETHEUS_URL", "http://127.0.0.1:9090"],
  prometheusAllowRemote: ["STEWARD_PROMETHEUS_ALLOW_REMOTE", "false"],
  metricsAddr: ["STEWARD_METRICS_ADDR", DEFAULT_METRICS_ADDR],
  logFormat: ["STEWARD_LOG_FORMAT", "json"],
  logLevel: ["STEWARD_LOG_LEVEL", "info"],
  workers: ["STEWARD_WORKERS", "4"],
  reconcileTimeout: ["STEWARD_RECONCILE_TIMEOUT", "30s"],
  model: ["STEWARD_MODEL", DEFAULT_MODEL],
  maxSessions: ["STEWARD_MAX_SESSIONS", "2"],
  verifyTimeout: ["STEWARD_VERIFY_TIMEOUT", "30s"],
  maxOpeningsPerMinute: ["STEWARD_MAX_OPENINGS_PER_MINUTE", "10"],
  breakerThreshold: ["STEWARD_BREAKER_THRESHOLD", "3"],
  breakerOpenFor: ["STEWARD_BREAKER_OPEN_FOR", "2m"],
  // "auto": on with the kubernetes store; the file store has no Lease (one process per state dir).
  leaderElect: ["STEWARD_LEADER_ELECT", "auto"],
  leaseName: ["STEWARD_LEASE_NAME", "steward"],
  // "": the pod's own namespace in a cluster, else "default".
  leaseNamespace: ["STEWARD_LEASE_NAMESPACE", ""],
  // "": every namespace.
  watchNamespace: ["STEWARD_WATCH_NAMESPACE", ""],
} as const satisfies Record<Exclude<keyof RunFlags, "stateDir">, readonly [string, string]>;

export function resolveRunConfig(flags: RunFlags, env: NodeJS.ProcessEnv): RunConfig {
  const setting = (name: keyof typeof SETTINGS): string => {
    const [envName, fallback] = SETTINGS[name];
    return flags[name] ?? env[envName] ?? fallback;
  };
  const candidate = {
    store: setting("store"),
    targets: targetList(setting("targets"), setting("store")),
    stateDir: flags.stateDir,
    prometheusUrl: setting("prometheusUrl"),
    prometheusAllowRemote: booleanSetting(setting("prometheusAllowRemote"), "prometheusAllowRemote"),
    metricsAddr: setting("metricsAddr"),
    logFormat: setting("logFormat"),
    logLevel: setting("logLevel"),
    workers: Number(setting("workers")),
    reconcileTimeoutMs: parseDuration(setting("reconcileTimeout")) ?? Number.NaN,
    modelConfigured: Boolean(env.ANTHROPIC_API_KEY),
    anthropicApiKey: env.ANTHROPIC_API_KEY || undefined,
    anthropicBaseUrl: env.ANTHROPIC_BASE_URL || undefined,
    model: setting("model"),
    maxSessions: Number(setting("maxSessions")),
    verifyTimeoutMs: parseDuration(setting("verifyTimeout")) ?? Number.NaN,
    maxOpeningsPerMinute: Number(setting("maxOpeningsPerMinute")),
    breakerThreshold: Number(setting("breakerThreshold")),
    breakerOpenForMs: parseDuration(setting("breakerOpenFor")) ?? Number.NaN,
    leaderElection: leaderElection(setting, env),
    watchNamespace: setting("watchNamespace") || undefined,
  };
  const result = RunConfig.safeParse(candidate);
  if (!result.success) throw new ValidationError(formatIssues(result.error.issues).map((p) => `configuration: ${p}`));
  return result.data;
}

function booleanSetting(value: string, name: string): boolean {
  if (value === "true" || value === "false") return value === "true";
  throw new ValidationError([`configuration: ${name}: expected true or false, got ${JSON.stringify(value)}`]);
}

function targetList(value: string, store: string): string[] {
  if (value === "auto") return store === "kubernetes" ? ["docker", "kubernetes"] : ["docker"];
  return [
    ...new Set(
      value
        .split(",")
        .map((t) => t.trim())
        .filter((t) => t !== ""),
    ),
  ];
}

/**
 * `--leader-elect` (true, false, or auto = on with the kubernetes store). The identity is the
 * pod name (POD_NAME, from the downward API) or the hostname, plus a random suffix: a
 * restarted process must never pass for its predecessor and renew a lease it did not hold.
 */
function leaderElection(
  setting: (name: keyof typeof SETTINGS) => string,
  env: NodeJS.ProcessEnv,
): RunConfig["leaderElection"] {
  const value = setting("leaderElect");
  const kubernetes = setting("store") === "kubernetes";
  if (!["true", "false", "auto"].includes(value))
    throw new ValidationError([
      `configuration: leaderElect: expected true, false or auto, got ${JSON.stringify(value)}`,
    ]);
  if (value === "false" || (value === "auto" && !kubernetes)) return undefined;
  if (!kubernetes)
    throw new ValidationError([
      "configuration: --leader-elect needs --store kubernetes (the file store is for one process and has no Lease)",
    ]);
  return {
    leaseName: setting("leaseName"),
    leaseNamespace: setting("leaseNamespace") || inClusterNamespace() || "default",
    identity: `${env.POD_NAME || hostname()}_${randomBytes(4).toString("hex")}`,
  };
}

/** The namespace of the pod Steward runs in, from its service account; undefined out of cluster. */
function inClusterNamespace(): string | undefined {
  try {
    return readFileSync("/var/run/secrets/kubernetes.io/serviceaccount/namespace", "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The configuration as it may be logged: the API key is reduced to whether it is set. */
export function loggableConfig(config: RunConfig): Record<string, unknown> {
  const { anthropicApiKey, ...rest } = config;
  return { ...rest, anthropicApiKey: anthropicApiKey ? "[set]" : "[not set]" };
}
