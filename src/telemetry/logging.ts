import winston from "winston";
import { redactSecrets } from "../text/redact.js";

/** The narrow logging surface Steward's code uses; winston's logger satisfies it. */
export interface Logger {
  error(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
  child(meta: Record<string, unknown>): Logger;
}

export type LogFormat = "json" | "text";
export type LogLevel = "error" | "warn" | "info" | "debug";

/** Where winston keeps the finished line (triple-beam's MESSAGE). */
const MESSAGE = Symbol.for("message");

/**
 * The last step of every format: the finished line with secrets redacted (`secrets`: known
 * values such as the Anthropic API key; plus every secret-shaped string). A log line may
 * quote a container's output, an error from Docker or the API server, or a manifest.
 */
function redactLine(secrets: readonly string[]): winston.Logform.Format {
  return winston.format((info) => {
    const line = (info as Record<symbol, unknown>)[MESSAGE];
    if (typeof line === "string") (info as Record<symbol, unknown>)[MESSAGE] = redactSecrets(line, secrets);
    return info;
  })();
}

/** JSON lines for machines (the default), `text` for people; always to stderr. */
export function createLogger(options: { format: LogFormat; level: LogLevel; secrets?: readonly string[] }): Logger {
  const lines =
    options.format === "json"
      ? winston.format.combine(
          winston.format.timestamp(),
          winston.format.errors({ stack: true }),
          winston.format.json(),
        )
      : winston.format.combine(
          winston.format.timestamp({ format: "HH:mm:ss.SSS" }),
          winston.format.printf(({ timestamp, level, message, ...meta }) => {
            const rest = Object.keys(meta).length > 0 ? ` ${JSON.stringify(meta)}` : "";
            return `${String(timestamp)} ${level.toUpperCase().padEnd(5)} ${String(message)}${rest}`;
          }),
        );
  const format = winston.format.combine(lines, redactLine(options.secrets ?? []));
  return winston.createLogger({
    level: options.level,
    format,
    transports: [new winston.transports.Console({ stderrLevels: ["error", "warn", "info", "debug"] })],
  });
}

/** For tests and one-shot CLI commands that must not print logs. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
