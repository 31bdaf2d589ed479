/**
 * Docker helpers for the bench: faults (stop, crash, freeze), Docker's own clock for
 * recovery times, and throw-away containers under a label of the bench's own, so nothing
 * the bench makes can be mistaken for the shared etcd cluster.
 */
import { setTimeout as sleep } from "node:timers/promises";
import Dockerode from "dockerode";
import { waitFor } from "../../scripts/lib/wait.js";

export const docker = new Dockerode({ socketPath: "/var/run/docker.sock" });

/** Every container the bench creates carries this label (value: the run id), and nothing else does. */
export const BENCH_LABEL = "dev.steward.bench";
/** Each sleeper's own number, so a DesiredState can target one container (as a compose project targets its own). */
export const SLOT_LABEL = "dev.steward.bench.slot";
export const BENCH_IMAGE = "steward-demo/etcd:3.4";

export interface ContainerTimes {
  running: boolean;
  pid: number;
  startedAt: number;
  finishedAt: number;
  restartCount: number;
}

export async function times(name: string): Promise<ContainerTimes> {
  const info = await docker.getContainer(name).inspect();
  return {
    running: info.State.Running,
    pid: info.State.Pid,
    startedAt: Date.parse(info.State.StartedAt),
    finishedAt: Date.parse(info.State.FinishedAt),
    restartCount: info.RestartCount,
  };
}

/**
 * A crash as Docker sees one: SIGKILL to the container's main process from the host. Unlike
 * `docker kill` (a manual stop), this is what a restart policy reacts to.
 */
export async function crash(name: string): Promise<number> {
  const { pid } = await times(name);
  if (pid <= 0) throw new Error(`${name} is not running; cannot crash it`);
  process.kill(pid, "SIGKILL");
  return Date.now();
}

/** SIGSTOP (or SIGCONT) to the container's main process: Docker still says "running". */
export async function signalMain(name: string, signal: "SIGSTOP" | "SIGCONT"): Promise<void> {
  const { pid } = await times(name);
  if (pid > 0) process.kill(pid, signal);
}

/** Waits until `name` has started again after `since` (ms); returns its times then. */
export async function waitRestarted(name: string, since: number, timeoutMs = 30_000): Promise<ContainerTimes> {
  return waitFor(
    async () => {
      const t = await times(name);
      return t.running && t.startedAt > since ? t : undefined;
    },
    timeoutMs,
    `${name} running again`,
  );
}

/** Waits until Docker has recorded the container's exit after `since`. */
export async function waitExited(name: string, since: number, timeoutMs = 15_000): Promise<ContainerTimes> {
  return waitFor(
    async () => {
      const t = await times(name);
      return t.finishedAt >= since - 1_000 && t.finishedAt > t.startedAt ? t : undefined;
    },
    timeoutMs,
    `${name} to exit`,
  );
}

/** Death (FinishedAt) → running again (StartedAt), on Docker's clock. */
export function downtimeMs(t: ContainerTimes): number {
  return t.startedAt - t.finishedAt;
}

/** Sleeping busybox containers `<prefix>-<from>` … `<prefix>-<to - 1>`, labelled with the run id; returns their names. */
export async function createSleepers(
  runId: string,
  prefix: string,
  range: { from: number; to: number },
): Promise<string[]> {
  const slots = Array.from({ length: Math.max(0, range.to - range.from) }, (_, i) => range.from + i);
  const names = slots.map((slot) => `${prefix}-${slot}`);
  const create = async (slot: number): Promise<void> => {
    const name = `${prefix}-${slot}`;
    const container = await docker.createContainer({
      name,
      Image: BENCH_IMAGE,
      Entrypoint: ["/bin/sleep"],
      Cmd: ["86400"],
      Labels: { [BENCH_LABEL]: runId, [SLOT_LABEL]: String(slot), "com.docker.compose.service": name },
      HostConfig: { NetworkMode: "host", Init: false },
    });
    await container.start();
  };
  for (let i = 0; i < slots.length; i += 8) await Promise.all(slots.slice(i, i + 8).map(create));
  return names;
}

/** Removes every container labelled with this run id (or any bench run with `"*"`). */
export async function removeBenchContainers(runId: string): Promise<void> {
  const label = runId === "*" ? BENCH_LABEL : `${BENCH_LABEL}=${runId}`;
  const existing = await docker.listContainers({ all: true, filters: { label: [label] } });
  for (let i = 0; i < existing.length; i += 8) {
    await Promise.all(
      existing.slice(i, i + 8).map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    );
  }
}

/** A pause long enough for Docker's event stream and Steward's queue to settle. */
export async function settle(ms = 500): Promise<void> {
  await sleep(ms);
}
