/**
 * What the observers report, independent of how they learn it. The reconciler reads these
 * snapshots and never talks to dockerode or HTTP directly, so decisions stay pure.
 */

export type ContainerState =
  | "created"
  | "running"
  | "paused"
  | "restarting"
  | "removing"
  | "exited"
  | "dead";

export type HealthState = "none" | "starting" | "healthy" | "unhealthy";

export interface ContainerSnapshot {
  id: string;
  /** Without Docker's leading slash. */
  name: string;
  image: string;
  labels: Readonly<Record<string, string>>;
  /** `com.docker.compose.project`, when the container belongs to a compose project. */
  project?: string;
  /** `com.docker.compose.service`. */
  service?: string;
  state: ContainerState;
  health: HealthState;
  exitCode: number;
  restartCount: number;
  oomKilled: boolean;
  startedAt?: string;
  finishedAt?: string;
  /** Docker's own error string for the last start, if any. */
  error?: string;
}

/** The observer's link to its source; anything but `connected` makes observations stale. */
export type ConnectionState =
  | { state: "connecting"; since: string }
  | { state: "connected"; since: string }
  | { state: "disconnected"; since: string; error: string; retryInMs: number };

/** Reported by the Docker observer; it never throws outward. */
export type DockerObserverEvent =
  /** The container changed (created, started, died, health changed…) or was removed. */
  | { type: "container"; id: string; snapshot: ContainerSnapshot | undefined; previous: ContainerSnapshot | undefined }
  /** A full list finished (at start and after every reconnect); the cache is now complete. */
  | { type: "resynced"; count: number }
  /** The connection state changed. */
  | { type: "connection"; connection: ConnectionState }
  /** A line of the events stream could not be parsed; it was dropped. */
  | { type: "malformed"; line: string; error: string };

export interface DockerObserver {
  /** Connects, lists every container, then follows the events stream until close(). */
  start(): Promise<void>;
  close(): Promise<void>;
  /** Subscribes a listener; returns the unsubscribe function. Listeners must not throw. */
  subscribe(listener: (event: DockerObserverEvent) => void): () => void;
  /** The cached snapshots; complete once `synced()` is true. */
  containers(): readonly ContainerSnapshot[];
  synced(): boolean;
  connection(): ConnectionState;
}

/** The Docker actions Steward takes itself and the evidence it gathers on demand. */
export interface DockerActions {
  start(nameOrId: string, signal?: AbortSignal): Promise<void>;
  restart(nameOrId: string, signal?: AbortSignal): Promise<void>;
  /** The last `tail` log lines, stdout and stderr demultiplexed, without Docker's framing. */
  logs(nameOrId: string, tail: number, signal?: AbortSignal): Promise<string[]>;
}

export interface Sample {
  labels: Readonly<Record<string, string>>;
  value: number;
}

export type QueryResult =
  | { ok: true; samples: Sample[] }
  | { ok: false; error: string };

export interface PrometheusClient {
  /** An instant query. Never throws: transport and API errors come back as `ok: false`. */
  query(expr: string, signal?: AbortSignal): Promise<QueryResult>;
}
