import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { StewardError } from "../errors.js";

/**
 * One HTTP request to another service with the guarantees every call needs: a deadline
 * (connect to last byte), a cap on the response body, and no redirect followed (a 3xx is
 * returned as is). Errors never carry the URL: notification URLs are secrets (a Slack
 * webhook's path is its token), so what went wrong is said without where.
 */
export interface HttpRequest {
  method: "GET" | "POST";
  url: URL;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  maxResponseBytes: number;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What kind of failure: retrying helps with every one but `aborted` (shutdown) and `too_large`. */
export type HttpFailureKind = "timeout" | "refused" | "reset" | "dns" | "tls" | "too_large" | "aborted" | "other";

export class HttpCallError extends StewardError {
  override readonly name = "HttpCallError";
  constructor(
    readonly kind: HttpFailureKind,
    message: string,
  ) {
    super(message);
  }
}

const NETWORK_CODES: Record<string, { kind: HttpFailureKind; text: string }> = {
  ECONNREFUSED: { kind: "refused", text: "connection refused" },
  ECONNRESET: { kind: "reset", text: "the connection was reset" },
  EPIPE: { kind: "reset", text: "the connection was closed while sending" },
  ENOTFOUND: { kind: "dns", text: "cannot resolve the host name" },
  EAI_AGAIN: { kind: "dns", text: "cannot resolve the host name (temporary)" },
  EHOSTUNREACH: { kind: "refused", text: "host unreachable" },
  ENETUNREACH: { kind: "refused", text: "network unreachable" },
};

/** Sends the request; resolves with any status (3xx included), rejects with HttpCallError. */
export async function sendHttp(call: HttpRequest): Promise<HttpResponse> {
  if (call.signal?.aborted) throw new HttpCallError("aborted", "aborted before sending");
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, call.timeoutMs);
  const onAbort = (): void => controller.abort();
  call.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const response = await open(call, controller.signal);
    return { status: response.statusCode ?? 0, headers: response.headers, body: await readBody(response, call) };
  } catch (err) {
    throw failure(err, { timedOut, aborted: call.signal?.aborted === true, timeoutMs: call.timeoutMs });
  } finally {
    clearTimeout(timer);
    call.signal?.removeEventListener("abort", onAbort);
  }
}

function open(call: HttpRequest, signal: AbortSignal): Promise<IncomingMessage> {
  const send = call.url.protocol === "https:" ? httpsRequest : httpRequest;
  const headers: Record<string, string | number> = { ...call.headers };
  if (call.body !== undefined) headers["content-length"] = Buffer.byteLength(call.body);
  return new Promise((resolve, reject) => {
    const request = send(call.url, { method: call.method, headers, signal }, resolve);
    request.on("error", reject);
    request.end(call.body);
  });
}

async function readBody(response: IncomingMessage, call: HttpRequest): Promise<string> {
  const tooLarge = (): HttpCallError =>
    new HttpCallError("too_large", `the answer is larger than ${call.maxResponseBytes} bytes`);
  if (Number(response.headers["content-length"] ?? 0) > call.maxResponseBytes) {
    response.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > call.maxResponseBytes) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function failure(err: unknown, why: { timedOut: boolean; aborted: boolean; timeoutMs: number }): HttpCallError {
  if (err instanceof HttpCallError) return err;
  if (why.timedOut) return new HttpCallError("timeout", `no complete answer within ${why.timeoutMs} ms`);
  if (why.aborted) return new HttpCallError("aborted", "aborted (shutting down)");
  return describe(err);
}

function describe(err: unknown): HttpCallError {
  const code = (err as { code?: unknown }).code;
  const known = typeof code === "string" ? NETWORK_CODES[code] : undefined;
  if (known) return new HttpCallError(known.kind, known.text);
  if (typeof code === "string" && /^(ERR_TLS|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED|ERR_SSL)/.test(code))
    return new HttpCallError("tls", `TLS failed (${code})`);
  return new HttpCallError("other", `the request failed${typeof code === "string" ? ` (${code})` : ""}`);
}

/** At most this long: a Retry-After of a day would park a delivery for good. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * A `Retry-After` header (seconds, or an HTTP date) as milliseconds from `now`, capped at
 * MAX_RETRY_AFTER_MS; undefined when absent or unreadable.
 */
export function retryAfterMs(header: string | string[] | undefined, now: number): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === "") return undefined;
  const trimmed = value.trim();
  const ms = /^\d+$/.test(trimmed) ? Number(trimmed) * 1000 : Date.parse(trimmed) - now;
  return Number.isFinite(ms) ? Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms)) : undefined;
}
