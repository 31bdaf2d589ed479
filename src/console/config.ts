import { readFile } from "node:fs/promises";
import { StewardError } from "../errors.js";
import { isLoopbackHost } from "../observe/prometheus.js";
import { parseListenAddress } from "../server/http.js";

export const DEFAULT_CONSOLE_ADDR = "127.0.0.1:9480";

export interface ConsoleFlags {
  addr?: string;
  tlsCert?: string;
  tlsKey?: string;
  allNamespaces?: boolean;
}

export interface ConsoleConfig {
  host: string;
  port: number;
  /** Paths of the PEM certificate and key; both or neither. */
  tls?: { certPath: string; keyPath: string };
  allNamespaces: boolean;
}

/**
 * The console's flags, checked. Loopback by default; any other address exposes pages that
 * approve changes to other machines, so it is refused unless TLS is configured (the login
 * token and the session cookie must not cross a network in clear text).
 */
export function resolveConsoleConfig(flags: ConsoleFlags): ConsoleConfig {
  const { host, port } = parseListenAddress(flags.addr ?? DEFAULT_CONSOLE_ADDR, "--addr");
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined))
    throw new StewardError("--tls-cert and --tls-key go together: give both (PEM files) or neither");
  const tls =
    flags.tlsCert !== undefined && flags.tlsKey !== undefined
      ? { certPath: flags.tlsCert, keyPath: flags.tlsKey }
      : undefined;
  if (!isLoopbackHost(host.includes(":") ? `[${host}]` : host) && !tls)
    throw new StewardError(
      `--addr ${flags.addr ?? ""}: ${host} is not a loopback address, so other machines could reach the console; give --tls-cert and --tls-key (a certificate for that address), or listen on 127.0.0.1`,
    );
  return { host, port, tls, allNamespaces: flags.allNamespaces === true };
}

/** The certificate and key, read once at start; an unreadable file is named. */
export async function readTls(tls: { certPath: string; keyPath: string }): Promise<{ cert: Buffer; key: Buffer }> {
  const read = async (path: string, flag: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (err) {
      throw new StewardError(`${flag} ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  return { cert: await read(tls.certPath, "--tls-cert"), key: await read(tls.keyPath, "--tls-key") };
}
