import { userInfo } from "node:os";
import type { Command } from "commander";
import type { Kind } from "../api/resources.js";
import { defaultKubeConfig } from "../kube/config.js";
import { whoAmI } from "../kube/whoami.js";
import { CachedStore } from "../store/cache.js";
import { openStore, type StoreKind } from "../store/open.js";
import { ConsoleAuth } from "./auth.js";
import {
  DEFAULT_CONSOLE_ADDR,
  readTls,
  resolveConsoleConfig,
  type ConsoleConfig,
  type ConsoleFlags,
} from "./config.js";
import { ChangeFeed } from "./live.js";
import { ConsoleServer } from "./server.js";

/** What `steward console` takes from the CLI's global options. */
/** What the console reads: DesiredStates and their remediations. */
const CONSOLE_KINDS: readonly Kind[] = ["DesiredState", "AgentRemediation"];

export interface ConsoleGlobals {
  storeKind(): StoreKind;
  stateDir(): string;
  namespace(): string | undefined;
  /** Resolves on SIGINT or SIGTERM. */
  untilSignal(): Promise<void>;
  out(text: string): void;
}

/** Registers `steward console` on the CLI. */
export function registerConsoleCommand(program: Command, globals: ConsoleGlobals): void {
  program
    .command("console")
    .description("a web console on 127.0.0.1: every DesiredState and remediation, live; approve or deny as yourself")
    .option(
      "--addr <host:port>",
      `listen here (default ${DEFAULT_CONSOLE_ADDR}; not loopback only with --tls-cert and --tls-key)`,
    )
    .option("--tls-cert <file>", "serve HTTPS with this PEM certificate")
    .option("--tls-key <file>", "and this PEM private key")
    .option("-A, --all-namespaces", "show every namespace, not only -n's")
    .action(async (flags: ConsoleFlags) => runConsole(resolveConsoleConfig(flags), globals));
}

/** Who the console acts as: the kubeconfig's user as the API server names it, or the local user. */
async function identityOf(kind: StoreKind): Promise<string> {
  return kind === "kubernetes" ? whoAmI(defaultKubeConfig()) : userInfo().username;
}

export async function runConsole(config: ConsoleConfig, globals: ConsoleGlobals): Promise<void> {
  const kind = globals.storeKind();
  const namespace = config.allNamespaces ? undefined : (globals.namespace() ?? "default");
  const identity = await identityOf(kind);
  const tls = config.tls ? await readTls(config.tls) : undefined;
  // Only the kinds the console shows: its user needs list and watch on those alone.
  const store = await openStore(kind, globals.stateDir(), {
    namespaces: namespace === undefined ? undefined : [namespace],
    kinds: CONSOLE_KINDS,
  });
  const cached = new CachedStore(store);
  const feed = new ChangeFeed(cached);
  const auth = new ConsoleAuth();
  feed.start();
  await cached.start();
  const server = new ConsoleServer({
    sources: { store: cached, stateDir: globals.stateDir(), namespace, now: () => new Date() },
    store,
    feed,
    auth,
    identity,
    scope: `${kind} store, ${namespace === undefined ? "all namespaces" : `namespace ${namespace}`}`,
    host: config.host,
    port: config.port,
    tls,
  });
  try {
    const base = await server.start();
    globals.out(`Steward console, acting as ${identity} (${kind} store):`);
    globals.out(`  ${base}/?token=${auth.loginToken}`);
    globals.out("Open that URL in a browser; the token changes every run. Ctrl-C stops the console.");
    await globals.untilSignal();
  } finally {
    await server.close();
    feed.close();
    await cached.close();
  }
}
