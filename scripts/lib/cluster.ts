import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { waitFor } from "./wait.js";

const run = promisify(execFile);
const ROOT = new URL("../../", import.meta.url).pathname;

export const PROMETHEUS_URL = "http://127.0.0.1:19090";
export const MEMBERS = ["etcd0", "etcd1", "etcd2"] as const;

const HOW_TO_START =
  "start the engines with: bash scripts/engines.sh up   (installs docker.io and starts dockerd when root)";

export async function docker(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run("docker", args, { timeout: 60_000 });
    return stdout.trim();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/Cannot connect to the Docker daemon|ENOENT/.test(message))
      throw new Error(`Docker is not available: ${message}\n${HOW_TO_START}`);
    throw err;
  }
}

export async function compose(...args: string[]): Promise<string> {
  const { stdout } = await run(
    "bash",
    [`${ROOT}scripts/compose.sh`, "-p", "etcd", "-f", `${ROOT}docker/compose.yaml`, ...args],
    {
      timeout: 120_000,
    },
  );
  return stdout;
}

export async function containerState(name: string): Promise<string> {
  try {
    return await docker("inspect", "-f", "{{.State.Status}}", name);
  } catch {
    return "missing";
  }
}

/** An instant query against the demo Prometheus; undefined when it cannot answer. */
export async function promQuery(
  query: string,
): Promise<{ metric: Record<string, string>; value: [number, string] }[] | undefined> {
  try {
    const res = await fetch(`${PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent(query)}`, {
      signal: AbortSignal.timeout(2_000),
    });
    const body = (await res.json()) as {
      status: string;
      data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    return body.status === "success" ? body.data?.result : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Brings the etcd compose system to its declared state: all members and Prometheus
 * running, Prometheus seeing all three members up. Idempotent: tests call it before each
 * scenario to undo the last one's damage.
 */
export async function ensureCluster(): Promise<void> {
  await docker("info", "--format", "{{.ServerVersion}}");
  const images = await docker("images", "-q", "steward-demo/etcd:3.4");
  if (!images)
    throw new Error(`the image steward-demo/etcd:3.4 is missing; build it with: bash scripts/build-images.sh`);
  await compose("up", "-d");
  await waitFor(
    async () =>
      (await promQuery('count(up{job="etcd"} == 1) == 3'))?.length === 1 &&
      (await promQuery("count(etcd_server_has_leader == 1) == 3"))?.length === 1,
    60_000,
    "Prometheus to see all three etcd members up with a leader",
  );
}

export async function teardownCluster(): Promise<void> {
  await compose("down", "-v");
}

/** etcd2 recreated with a flag etcd rejects: it exits at once, every time it is started. */
export async function makeEtcd2CrashLoop(): Promise<void> {
  await docker("rm", "-f", "etcd2");
  await docker(
    "create",
    "--name",
    "etcd2",
    "--network",
    "host",
    "--label",
    "com.docker.compose.project=etcd",
    "--label",
    "com.docker.compose.service=etcd2",
    "steward-demo/etcd:3.4",
    "--no-such-flag",
  );
}
