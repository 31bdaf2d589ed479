import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { StewardError } from "../errors.js";

/**
 * Starts `server` listening on `host:port`; resolves with the address it got (port 0 picks
 * one). A failure (address in use, not permitted) is a StewardError naming `what`, the flag
 * or address the user gave. One way for every Steward HTTP server (metrics, alerts, console).
 */
export async function listen(server: Server, at: { host: string; port: number }, what: string): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(new StewardError(`cannot listen on ${what}: ${err.message}`, { cause: err })));
    server.listen(at.port, at.host, resolve);
  });
  return server.address() as AddressInfo;
}

/** Stops `server` at once: open connections (keep-alive, event streams) are closed, not waited for. */
export async function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
