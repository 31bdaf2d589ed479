/**
 * The Docker client: dockerode for a daemon that is only ever local, with the deadline
 * every non-streaming call gets.
 */
import Dockerode from "dockerode";
import { StewardError } from "../../errors.js";

export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";

/** Where the daemon is. Only local endpoints exist: Steward never talks to a remote daemon. */
export type DockerEndpoint = { kind: "unix"; socketPath: string } | { kind: "tcp"; host: "127.0.0.1"; port: number };

/**
 * Reads a `DOCKER_HOST` value: unset or `unix:///path` is a socket; `tcp://127.0.0.1:PORT`
 * is plain HTTP on loopback. Anything else (another host, `localhost`, which may resolve
 * off-box or to ::1, ssh, TLS) is refused rather than silently used.
 */
export function resolveDockerEndpoint(dockerHost: string | undefined): DockerEndpoint {
  const value = dockerHost?.trim() ?? "";
  if (value === "") return { kind: "unix", socketPath: DEFAULT_DOCKER_SOCKET };
  if (value.startsWith("unix://")) {
    const socketPath = value.slice("unix://".length) || DEFAULT_DOCKER_SOCKET;
    if (socketPath.startsWith("/")) return { kind: "unix", socketPath };
  }
  const tcp = /^(?:tcp|http):\/\/127\.0\.0\.1:(\d{1,5})\/?$/.exec(value);
  const port = tcp ? Number(tcp[1]) : NaN;
  if (port >= 1 && port <= 65535) return { kind: "tcp", host: "127.0.0.1", port };
  throw new StewardError(
    `DOCKER_HOST=${value} is not allowed: Steward talks to Docker only over a unix socket or ` +
      "127.0.0.1; use unix:///var/run/docker.sock (or unset DOCKER_HOST) or tcp://127.0.0.1:<port>",
  );
}

/** A printable form of the endpoint, for logs and error messages. */
export function describeDockerEndpoint(endpoint: DockerEndpoint): string {
  return endpoint.kind === "unix" ? endpoint.socketPath : `http://${endpoint.host}:${endpoint.port}`;
}

/**
 * A dockerode client for a `DOCKER_HOST` value (unset: the default socket). Every
 * connection option is set explicitly: docker-modem also reads the environment and would
 * otherwise add a remote host, TLS files or `DOCKER_CLIENT_TIMEOUT`, whose idle timeout
 * would cut the long-lived events stream.
 */
export function createDockerClient(dockerHost?: string): Dockerode {
  const endpoint = resolveDockerEndpoint(dockerHost);
  const common = { protocol: "http" as const, timeout: undefined, ca: undefined, cert: undefined, key: undefined };
  if (endpoint.kind === "unix") {
    return new Dockerode({ ...common, socketPath: endpoint.socketPath, host: undefined, port: undefined });
  }
  return new Dockerode({ ...common, socketPath: undefined, host: endpoint.host, port: endpoint.port });
}

/** How long one non-streaming Docker API call may take. */
export const DOCKER_CALL_TIMEOUT_MS = 10_000;

/** The HTTP status dockerode attached to an error, looking through `cause` wrappers. */
export function statusCodeOf(err: unknown): number | undefined {
  for (let current = err, depth = 0; current && depth < 5; depth++) {
    if (typeof current !== "object") return undefined;
    const code = (current as { statusCode?: unknown }).statusCode;
    if (typeof code === "number") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
