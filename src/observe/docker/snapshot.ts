/**
 * Pure conversion from what `docker inspect` returns to the observer's ContainerSnapshot,
 * and the comparison the observer uses to decide whether a container changed.
 */
import type Dockerode from "dockerode";
import type { ContainerSnapshot, ContainerState, HealthState } from "../types.js";

export const COMPOSE_PROJECT_LABEL = "com.docker.compose.project";
export const COMPOSE_SERVICE_LABEL = "com.docker.compose.service";

/** Go's zero time.Time; Docker reports it for "never started" / "never finished". */
const DOCKER_ZERO_TIME = "0001-01-01T00:00:00Z";

const CONTAINER_STATES: ReadonlySet<string> = new Set<ContainerState>([
  "created",
  "running",
  "paused",
  "restarting",
  "removing",
  "exited",
  "dead",
]);
const HEALTH_STATES: ReadonlySet<string> = new Set<HealthState>(["none", "starting", "healthy", "unhealthy"]);

/**
 * The parts of an inspect result we read. Typed loosely on purpose: the daemon sends
 * `null` for empty label maps, and older daemons omit fields the typings call required.
 */
export type InspectLike = Pick<Dockerode.ContainerInspectInfo, "Id" | "Name"> & {
  Image?: string;
  RestartCount?: number;
  State: Partial<Dockerode.ContainerInspectInfo["State"]> | null;
  Config: { Image?: string; Labels?: Record<string, string> | null } | null;
};

export function toContainerSnapshot(info: InspectLike): ContainerSnapshot {
  const state = info.State ?? {};
  const config = info.Config ?? {};
  const snapshot: ContainerSnapshot = {
    id: info.Id,
    name: info.Name.replace(/^\//, ""),
    image: config.Image || info.Image || "",
    labels: { ...(config.Labels ?? {}) },
    state: containerState(state),
    health: healthState(state.Health?.Status),
    exitCode: state.ExitCode ?? 0,
    restartCount: info.RestartCount ?? 0,
    oomKilled: state.OOMKilled ?? false,
  };
  return withOptionalFields(snapshot, state);
}

/** Optional fields are absent, not `undefined`, so snapshots compare and print cleanly. */
function withOptionalFields(
  snapshot: ContainerSnapshot,
  state: Partial<Dockerode.ContainerInspectInfo["State"]>,
): ContainerSnapshot {
  const optional: Partial<ContainerSnapshot> = {
    project: snapshot.labels[COMPOSE_PROJECT_LABEL],
    service: snapshot.labels[COMPOSE_SERVICE_LABEL],
    startedAt: dockerTime(state.StartedAt),
    finishedAt: dockerTime(state.FinishedAt),
    error: state.Error,
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value) Object.assign(snapshot, { [key]: value });
  }
  return snapshot;
}

/**
 * `Status` is authoritative; the booleans are only a fallback for a status string this
 * code does not know (a newer daemon), so an unknown value never becomes "running".
 */
function containerState(state: Partial<Dockerode.ContainerInspectInfo["State"]>): ContainerState {
  const status = state.Status ?? "";
  if (CONTAINER_STATES.has(status)) return status as ContainerState;
  if (state.Dead) return "dead";
  if (state.Restarting) return "restarting";
  if (state.Paused) return "paused";
  if (state.Running) return "running";
  return "exited";
}

function healthState(status: string | undefined): HealthState {
  return status !== undefined && HEALTH_STATES.has(status) ? (status as HealthState) : "none";
}

function dockerTime(value: string | undefined): string | undefined {
  if (!value || value === DOCKER_ZERO_TIME) return undefined;
  return value;
}

/** Field-by-field equality; snapshots are flat apart from `labels`. */
export function sameSnapshot(a: ContainerSnapshot | undefined, b: ContainerSnapshot | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)] as (keyof ContainerSnapshot)[]);
  for (const key of keys) {
    if (key === "labels") continue;
    if (a[key] !== b[key]) return false;
  }
  return sameLabels(a.labels, b.labels);
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key]);
}

/** A container that appeared, changed or disappeared between two caches. */
export interface SnapshotChange {
  id: string;
  previous: ContainerSnapshot | undefined;
  snapshot: ContainerSnapshot | undefined;
}

/** What changed from `before` to `after`: appeared, changed, then disappeared. */
export function diffSnapshots(
  before: ReadonlyMap<string, ContainerSnapshot>,
  after: ReadonlyMap<string, ContainerSnapshot>,
): SnapshotChange[] {
  const changes: SnapshotChange[] = [];
  for (const [id, snapshot] of after) {
    const previous = before.get(id);
    if (!sameSnapshot(previous, snapshot)) changes.push({ id, previous, snapshot });
  }
  for (const [id, previous] of before) {
    if (!after.has(id)) changes.push({ id, previous, snapshot: undefined });
  }
  return changes;
}
