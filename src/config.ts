import { z } from "zod";
import { formatIssues } from "./api/load.js";
import { parseDuration } from "./api/duration.js";
import { ValidationError } from "./errors.js";

/**
 * The effective configuration of `steward run`, read once from flags and environment,
 * validated, logged at start and passed in. Nothing reads the environment elsewhere.
 */
export const RunConfig = z.object({
  store: z.enum(["file", "kubernetes"]),
  stateDir: z.string().min(1),
  prometheusUrl: z.string().url().optional(),
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
});
export type RunConfig = z.infer<typeof RunConfig>;

export const DEFAULT_METRICS_ADDR = "127.0.0.1:9477";

export interface RunFlags {
  stateDir: string;
  store?: string;
  prometheusUrl?: string;
  metricsAddr?: string;
  logFormat?: string;
  logLevel?: string;
  workers?: string;
  reconcileTimeout?: string;
  model?: string;
  maxSessions?: string;
  verifyTimeout?: string;
}

/**
 * The default model: a current Claude Sonnet from the SDK's model list. Not
 * claude-sonnet-4-5, which the SDK says reaches end of life on 2026-11-30.
 */
export const DEFAULT_MODEL = "claude-sonnet-5-5";

/** Each setting: its flag, its environment variable, its default. Flags win over env. */
const SETTINGS = {
  store: ["STEWARD_STORE", "file"],
  prometheusUrl: ["STEWARD_PROMETHEUS_URL", "http://127.0.0.1:9090"],
  metricsAddr: ["STEWARD_METRICS_ADDR", DEFAULT_METRICS_ADDR],
  logFormat: ["STEWARD_LOG_FORMAT", "json"],
  logLevel: ["STEWARD_LOG_LEVEL", "info"],
  workers: ["STEWARD_WORKERS", "4"],
  reconcileTimeout: ["STEWARD_RECONCILE_TIMEOUT", "30s"],
  model: ["STEWARD_MODEL", DEFAULT_MODEL],
  maxSessions: ["STEWARD_MAX_SESSIONS", "2"],
  verifyTimeout: ["STEWARD_VERIFY_TIMEOUT", "30s"],
} as const satisfies Record<Exclude<keyof RunFlags, "stateDir">, readonly [string, string]>;

export function resolveRunConfig(flags: RunFlags, env: NodeJS.ProcessEnv): RunConfig {
  const setting = (name: keyof typeof SETTINGS): string => {
    const [envName, fallback] = SETTINGS[name];
    return flags[name] ?? env[envName] ?? fallback;
  };
  const candidate = {
    store: setting("store"),
    stateDir: flags.stateDir,
    prometheusUrl: setting("prometheusUrl"),
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
  };
  const result = RunConfig.safeParse(candidate);
  if (!result.success) throw new ValidationError(formatIssues(result.error.issues).map((p) => `configuration: ${p}`));
  return result.data;
}

/** The configuration as it may be logged: the API key is reduced to whether it is set. */
export function loggableConfig(config: RunConfig): Record<string, unknown> {
  const { anthropicApiKey, ...rest } = config;
  return { ...rest, anthropicApiKey: anthropicApiKey ? "[set]" : "[not set]" };
}
