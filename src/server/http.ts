import { createServer, type Server } from "node:http";
import { closeServer, listen } from "./listen.js";
import { StewardError } from "../errors.js";
import type { Registry } from "prom-client";

export interface HealthSource {
  /** Why Steward is not ready yet (store not synced, Docker not listed), or undefined. */
  notReadyReason(): string | undefined;
}

/**
 * Serves /metrics, /healthz (the process is alive and its event loop turns) and /readyz
 * (the caches are synced, so reconciles see the whole world).
 */
export class OperabilityServer {
  private server: Server | undefined;

  constructor(private readonly options: { address: string; registry: Registry; health: HealthSource }) {}

  async start(): Promise<string> {
    const { host, port } = parseListenAddress(this.options.address);
    const server = createServer((req, res) => {
      void this.handle(req.url ?? "/").then(({ status, type, body }) => {
        res.writeHead(status, { "content-type": type });
        res.end(body);
      });
    });
    this.server = server;
    const address = await listen(server, { host, port }, this.options.address);
    return `${address.address}:${address.port}`;
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private async handle(url: string): Promise<{ status: number; type: string; body: string }> {
    const path = url.split("?")[0];
    if (path === "/metrics") {
      return { status: 200, type: this.options.registry.contentType, body: await this.options.registry.metrics() };
    }
    if (path === "/healthz") return { status: 200, type: "text/plain", body: "ok\n" };
    if (path === "/readyz") {
      const reason = this.options.health.notReadyReason();
      return reason === undefined
        ? { status: 200, type: "text/plain", body: "ok\n" }
        : { status: 503, type: "text/plain", body: `not ready: ${reason}\n` };
    }
    return { status: 404, type: "text/plain", body: "not found; try /metrics, /healthz or /readyz\n" };
  }
}

/** `127.0.0.1:9477`, `[::1]:9477` or `:9477` (which means loopback, never all interfaces); `flag` names it in errors. */
export function parseListenAddress(address: string, flag = "--metrics-addr"): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address);
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new StewardError(`${flag}: expected host:port like 127.0.0.1:9477, got ${JSON.stringify(address)}`);
  }
  return { host: match[1] ?? (match[2] || "127.0.0.1"), port };
}
