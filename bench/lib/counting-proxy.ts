/**
 * A counting HTTP proxy on 127.0.0.1: Steward is pointed at it instead of Prometheus or
 * the API server, and it forwards every request to the real one, recording when each
 * request came and what it was. Responses are streamed through, so long watches work.
 * The upstream may be https (the test API server); the proxy itself speaks plain http on
 * loopback only.
 */
import {
  request as httpRequest,
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { request as httpsRequest } from "node:https";

export interface CountedRequest {
  at: number;
  method: string;
  /** The path without the query string, with `?watch=true` kept as a `watch` flag. */
  path: string;
  watch: boolean;
}

export interface ProxyOptions {
  upstream: string;
  /** PEM CA for an https upstream. */
  ca?: string;
}

export class CountingProxy {
  readonly requests: CountedRequest[] = [];
  private server: Server | undefined;
  private readonly upstream: URL;

  constructor(private readonly options: ProxyOptions) {
    this.upstream = new URL(options.upstream);
    if (!/^127\.|^localhost$|^\[::1\]$/.test(this.upstream.hostname))
      throw new Error(`counting proxy: upstream ${options.upstream} is not on loopback`);
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => this.forward(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("counting proxy: no address");
    return `http://127.0.0.1:${address.port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Requests that arrived in [from, to). */
  between(from: number, to: number): CountedRequest[] {
    return this.requests.filter((r) => r.at >= from && r.at < to);
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", this.upstream);
    this.requests.push({
      at: Date.now(),
      method: req.method ?? "GET",
      path: url.pathname,
      watch: url.searchParams.get("watch") === "true",
    });
    const https = this.upstream.protocol === "https:";
    const send = https ? httpsRequest : httpRequest;
    const upstream = send(
      {
        host: this.upstream.hostname,
        port: this.upstream.port || (https ? 443 : 80),
        method: req.method,
        path: `${url.pathname}${url.search}`,
        headers: { ...req.headers, host: this.upstream.host },
        ...(https ? { ca: this.options.ca } : {}),
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", (err) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(`counting proxy: ${err.message}`);
    });
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  }
}

/** Requests counted by a short description (`GET leases`, `WATCH desiredstates`, `PATCH desiredstates/status`). */
export function requestCounts(requests: readonly CountedRequest[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of requests) {
    const key = `${r.watch ? "WATCH" : r.method} ${resourceOf(r.path)}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** Requests per minute in a window, by the same description. */
export function requestsPerMinute(requests: readonly CountedRequest[], windowMs: number): Record<string, number> {
  const counts = requestCounts(requests);
  const perMinute: Record<string, number> = {};
  for (const [key, n] of Object.entries(counts)) perMinute[key] = (n * 60_000) / windowMs;
  return perMinute;
}

/**
 * The resource a Kubernetes API path names (`/apis/g/v/namespaces/ns/leases/x` → `leases`,
 * `…/desiredstates/x/status` → `desiredstates/status`); other paths (Prometheus's
 * `/api/v1/query`) are kept whole.
 */
export function resourceOf(path: string): string {
  const parts = path.split("/").filter((p) => p !== "");
  const root = parts[0] === "api" ? 2 : parts[0] === "apis" ? 3 : -1;
  if (root < 0 || parts.length <= root) return path;
  const at = parts[root] === "namespaces" && parts.length > root + 2 ? root + 2 : root;
  const resource = parts[at] ?? path;
  return parts[at + 2] === "status" ? `${resource}/status` : resource;
}
