import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { errorMessage } from "../errors.js";
import { parseWebhookPayload } from "../observe/alerts/payload.js";
import type { ReceivedAlert } from "../observe/types.js";
import { takeToken, type TokenBucket } from "../resilience/token-bucket.js";
import type { Logger } from "../telemetry/logging.js";
import type { StewardMetrics } from "../telemetry/metrics.js";
import { parseListenAddress } from "./http.js";
import { closeServer, listen } from "./listen.js";

/** Larger bodies are refused (413): Alertmanager's groups are a few KiB; max_alerts bounds them. */
export const MAX_ALERT_BODY_BYTES = 1_048_576;
/** Requests a minute (bursts of up to as many): far above what Alertmanager's group_interval produces. */
export const ALERT_REQUESTS_PER_MINUTE = 600;
/** A request must arrive whole within this (headers and body): a slow sender cannot hold a socket. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface AlertReceiverOptions {
  /** host:port; loopback unless a token is set (the configuration checks that). */
  address: string;
  /** The bearer token Alertmanager sends (`http_config.authorization`); undefined: none is checked (loopback only). */
  token?: string;
  /** Takes the alerts of one accepted notification; must not throw. */
  onAlerts(alerts: readonly ReceivedAlert[]): void;
  metrics: StewardMetrics;
  logger: Logger;
  now?: () => number;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

/**
 * Alertmanager's webhook receiver (`webhook_configs`, payload version 4) on `POST /alerts`.
 * Every request is answered, never thrown: 401 without the bearer token, 413 over the body
 * limit, 429 over the rate limit (with Retry-After: Alertmanager retries), 400 naming what
 * is malformed, 200 once the alerts are in the cache. The token is compared in constant
 * time and never logged.
 */
export class AlertReceiver {
  private server: Server | undefined;
  private bucket: TokenBucket | undefined;
  private readonly now: () => number;
  private readonly token: Buffer | undefined;

  constructor(private readonly options: AlertReceiverOptions) {
    this.now = options.now ?? Date.now;
    this.token = options.token === undefined ? undefined : Buffer.from(`Bearer ${options.token}`);
  }

  async start(): Promise<string> {
    const { host, port } = parseListenAddress(this.options.address, "--alerts-addr");
    const server = createServer((req, res) => void this.serve(req, res));
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    server.headersTimeout = REQUEST_TIMEOUT_MS;
    this.server = server;
    const address = await listen(server, { host, port }, `${this.options.address} (--alerts-addr)`);
    return `${address.address}:${address.port}`;
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let answer: Answer;
    try {
      answer = await this.answer(req);
    } catch (err) {
      answer = { status: 500, body: { error: `internal error: ${errorMessage(err)}` } };
    }
    this.options.metrics.alertWebhookRequests.inc({ code: String(answer.status) });
    if (answer.status !== 200) {
      this.options.logger.warn("alert webhook request refused", { status: answer.status, error: answer.body.error });
    }
    if (res.headersSent) return;
    res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
    res.end(`${JSON.stringify(answer.body)}\n`);
    // A refused body may still be arriving: do not keep reading it.
    if (answer.status === 413) req.destroy();
  }

  private async answer(req: IncomingMessage): Promise<Answer> {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/alerts") return { status: 404, body: { error: "not found; Alertmanager posts to /alerts" } };
    if (req.method !== "POST") return { status: 405, body: { error: "use POST" }, headers: { allow: "POST" } };
    if (!this.authorized(req.headers.authorization)) {
      return {
        status: 401,
        body: { error: "a valid bearer token is required" },
        headers: { "www-authenticate": "Bearer" },
      };
    }
    const limited = this.rateLimited();
    if (limited !== undefined) return limited;
    const body = await readBody(req);
    if (body === undefined)
      return { status: 413, body: { error: `the body is larger than ${MAX_ALERT_BODY_BYTES} bytes` } };
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch (err) {
      return { status: 400, body: { error: `malformed JSON: ${errorMessage(err).slice(0, 200)}` } };
    }
    const parsed = parseWebhookPayload(json);
    if (!parsed.ok) return { status: 400, body: { error: parsed.reason } };
    for (const alert of parsed.alerts) this.options.metrics.alertsReceived.inc({ status: alert.status });
    this.options.onAlerts(parsed.alerts);
    return { status: 200, body: { status: "ok", alerts: parsed.alerts.length } };
  }

  private authorized(header: string | undefined): boolean {
    if (!this.token) return true;
    const given = Buffer.from(header ?? "");
    return given.length === this.token.length && timingSafeEqual(given, this.token);
  }

  private rateLimited(): Answer | undefined {
    const taken = takeToken(this.bucket, ALERT_REQUESTS_PER_MINUTE, this.now());
    this.bucket = taken.bucket;
    if (taken.granted) return undefined;
    const seconds = String(Math.max(1, Math.ceil(taken.retryInMs / 1000)));
    return { status: 429, body: { error: "too many requests" }, headers: { "retry-after": seconds } };
  }
}

/** The body, or undefined once it passes MAX_ALERT_BODY_BYTES (the rest is not read). */
async function readBody(req: IncomingMessage): Promise<string | undefined> {
  if (Number(req.headers["content-length"] ?? 0) > MAX_ALERT_BODY_BYTES) return undefined;
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > MAX_ALERT_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}
