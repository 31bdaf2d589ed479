import type { IncomingMessage } from "node:http";
import { request as httpRequest } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";
import { StewardError } from "../errors.js";
import { parseRetryAfter } from "../resilience/backoff.js";

/** One line of a watch response: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR. */
export interface WatchLine {
  type: string;
  object: unknown;
}

export interface WatchRequest {
  /** The collection's API path, e.g. `/apis/steward.dev/v1alpha1/desiredstates`. */
  path: string;
  query: Record<string, string>;
  /** Aborts the request at any point, the connect included (the informer's watchdog). */
  signal: AbortSignal;
  /** The server answered 200: events follow. */
  onOpen(): void;
  onLine(line: WatchLine): void;
}

/** The API server answered a watch request with something other than 200. */
export class WatchStatusError extends StewardError {
  override readonly name = "WatchStatusError";
  constructor(
    readonly statusCode: number,
    /** From Retry-After (429 while a CRD's storage initializes, 503 while shutting down). */
    readonly retryAfterMs: number | undefined,
    detail: string,
  ) {
    super(`watch request answered HTTP ${statusCode}${detail ? `: ${detail}` : ""}`);
  }
}

/** How much of a non-200 answer's body is read for the error message. */
const MAX_ERROR_BODY = 4_096;

/**
 * One watch request, over node:http(s) rather than the client library's Watch: that one
 * cannot be aborted until the server has answered, so a server that accepts the
 * connection and never answers would hang it forever. Resolves when the server ends the
 * stream (its timeoutSeconds ran out, or it is shutting down); rejects with
 * WatchStatusError on a non-200 answer, with `signal.reason` when aborted, and with the
 * network error otherwise. A line that is not JSON is skipped: the next relist repairs
 * whatever it carried.
 */
export async function watchStream(kubeConfig: KubeConfig, request: WatchRequest): Promise<void> {
  const server = kubeConfig.getCurrentCluster()?.server;
  if (!server) throw new StewardError("the kubeconfig has no current cluster; set current-context");
  const url = new URL(server + request.path);
  url.searchParams.set("watch", "true");
  for (const [key, value] of Object.entries(request.query)) url.searchParams.set(key, value);
  // Authorization header and a fresh agent carrying the cluster's CA and client certificate.
  const options: RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(options);
  request.signal.throwIfAborted();
  return new Promise<void>((resolve, reject) => {
    const fail = (err: unknown): void => reject(asError(request.signal.aborted ? request.signal.reason : err));
    const send = url.protocol === "http:" ? httpRequest : httpsRequest;
    const req = send(url, { ...options, method: "GET", signal: request.signal }, (response) => {
      response.on("error", fail);
      if (response.statusCode !== 200) {
        readErrorBody(response).then((body) => fail(statusError(response, body)), fail);
        return;
      }
      request.onOpen();
      readLines(response, (line) => request.onLine(line));
      // `complete` tells a server that ended the stream from a connection that broke.
      response.on("close", () =>
        response.complete ? resolve() : fail(new StewardError("the watch connection closed mid-stream")),
      );
    });
    req.on("error", fail);
    req.end();
  });
}

function readLines(response: IncomingMessage, onLine: (line: WatchLine) => void): void {
  let buffered = "";
  response.setEncoding("utf8");
  response.on("data", (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      const parsed = parseLine(line);
      if (parsed) onLine(parsed);
    }
  });
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new StewardError(String(value));
}

function parseLine(line: string): WatchLine | undefined {
  if (!line.trim()) return undefined;
  try {
    const value = JSON.parse(line) as { type?: unknown; object?: unknown };
    return typeof value.type === "string" ? { type: value.type, object: value.object } : undefined;
  } catch {
    return undefined;
  }
}

async function readErrorBody(response: IncomingMessage): Promise<string> {
  let body = "";
  response.setEncoding("utf8");
  for await (const chunk of response) {
    if (body.length < MAX_ERROR_BODY) body += chunk as string;
  }
  return body.slice(0, MAX_ERROR_BODY);
}

function statusError(response: IncomingMessage, body: string): WatchStatusError {
  let message = body.trim();
  try {
    message = (JSON.parse(body) as { message?: string }).message ?? message;
  } catch {
    // Not a Status object (a proxy's HTML page, say): the raw text is the best we have.
  }
  return new WatchStatusError(response.statusCode ?? 0, parseRetryAfter(response.headers["retry-after"]), message);
}
