/**
 * What the observers report, independent of how they learn it. The reconciler reads these
 * snapshots and never talks to dockerode or HTTP directly, so decisions stay pure.
 */

export type ContainerState = "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead";

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

export interface Sample {
  labels: Readonly<Record<string, string>>;
  value: number;
}

export type QueryResult = { ok: true; samples: Sample[] } | { ok: false; error: string };

export interface QueryOptions {
  /** The result must be Prometheus's answer now: a client that caches results queries instead. */
  fresh?: boolean;
}

export interface PrometheusClient {
  /** An instant query. Never throws: transport and API errors come back as `ok: false`. */
  query(expr: string, signal?: AbortSignal, options?: QueryOptions): Promise<QueryResult>;
}

/** `metadata.ownerReferences[]`: an owner of a Kubernetes object, by identity. */
export interface OwnerReference {
  kind: string;
  name: string;
  uid: string;
  /** The owner is the object's managing controller (at most one reference says so). */
  controller: boolean;
}

/** A Deployment or StatefulSet as Steward sees it: what it declares and what its controller reports. */
export interface WorkloadSnapshot {
  kind: "Deployment" | "StatefulSet";
  namespace: string;
  name: string;
  /** `metadata.uid`: what its pods' and ReplicaSets' owner references name. */
  uid: string;
  labels: Readonly<Record<string, string>>;
  /** `spec.selector.matchLabels`: how its pods are found (matchExpressions are not evaluated). */
  selector: Readonly<Record<string, string>>;
  /** `spec.replicas`; the API server defaults it to 1. */
  replicas: number;
  readyReplicas: number;
  updatedReplicas: number;
  generation: number;
  observedGeneration: number;
}

/** One container of a pod, from `status.containerStatuses`. */
export interface PodContainerSnapshot {
  name: string;
  ready: boolean;
  restartCount: number;
  state: "running" | "waiting" | "terminated" | "unknown";
  /** The waiting or terminated reason: `CrashLoopBackOff`, `ImagePullBackOff`, `Error`, … */
  reason?: string;
  lastTermination?: { reason?: string; exitCode: number; finishedAt?: string };
}

export interface PodSnapshot {
  namespace: string;
  name: string;
  uid: string;
  labels: Readonly<Record<string, string>>;
  /** Who owns it (a ReplicaSet, a StatefulSet): how Steward tells whose pod it is, never by labels. */
  ownerReferences: readonly OwnerReference[];
  /**
   * Values the pod's spec holds that are secret by default: every container's literal env
   * values and the values of its secret arguments (`--password x`). Only what the pod
   * object itself carries: Secrets it references are not fetched. Redacted wherever the
   * pod's logs or events are shown; never shown themselves.
   */
  secretValues: readonly string[];
  phase: string;
  ready: boolean;
  /** Deletion has been requested (`metadata.deletionTimestamp`): the pod is going away. */
  terminating: boolean;
  containers: PodContainerSnapshot[];
  startTime?: string;
}

/** A ReplicaSet, for the one thing Steward needs of it: which Deployment owns it. */
export interface ReplicaSetSnapshot {
  namespace: string;
  name: string;
  uid: string;
  labels: Readonly<Record<string, string>>;
  ownerReferences: readonly OwnerReference[];
}

/** What the Kubernetes observer holds for one namespace; complete once `synced`. */
export interface NamespaceView {
  synced: boolean;
  workloads: readonly WorkloadSnapshot[];
  /** The namespace's ReplicaSets: the link from a Deployment to its pods. */
  replicaSets: readonly ReplicaSetSnapshot[];
  pods: readonly PodSnapshot[];
  /** Why the namespace cannot be observed (API server unreachable, forbidden…), if so. */
  error?: string;
}

export type KubernetesObserverEvent =
  /** A workload or pod of a watched namespace changed, or its cache was (re)listed. */
  { type: "changed"; namespace: string };

/**
 * Deployments, StatefulSets, ReplicaSets and Pods of the namespaces Kubernetes targets name, from
 * list+watch informers started on first use of a namespace (never cluster-wide).
 */
export interface KubernetesObserver {
  close(): Promise<void>;
  subscribe(listener: (event: KubernetesObserverEvent) => void): () => void;
  /** Starts watching the namespace if not yet, and returns what is cached for it. */
  namespace(name: string): NamespaceView;
}

export type WorkloadRef = Pick<WorkloadSnapshot, "kind" | "namespace" | "name">;

/** An Alertmanager alert as Steward last heard of it (webhook, or Alertmanager's API). */
export interface ReceivedAlert {
  /** Alertmanager's fingerprint of the alert's labels: the same alert keeps it across notifications. */
  fingerprint: string;
  status: "firing" | "resolved";
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  startsAt: string;
  /** When Alertmanager says it ended (resolved), or will end unless it is sent again. */
  endsAt?: string;
  generatorURL?: string;
  /** The Alertmanager receiver that posted it. */
  receiver?: string;
}

export type AlertObserverEvent =
  /** An alert started firing, changed, or resolved. */
  | { type: "alert"; alert: ReceivedAlert; previous: ReceivedAlert | undefined }
  /** A full list from Alertmanager's API replaced the cache. */
  | { type: "resynced"; count: number }
  /** Alertmanager's API could (not) be listed. */
  | { type: "connection"; connected: boolean; error?: string };

/**
 * The alerts Alertmanager sent Steward, kept in memory (the webhook), and re-listed from
 * Alertmanager's v2 API when one is configured, so a restarted Steward knows what fires.
 */
export interface AlertObserver {
  /** Alerts firing now. */
  firing(): readonly ReceivedAlert[];
  /** Whether the alert is known to be resolved: a resolved notification, or absent from a complete list. */
  resolved(fingerprint: string): boolean;
  /**
   * Alertmanager or Prometheus said the alert no longer fires (a fix was verified): it is
   * resolved now, before Alertmanager's resolved notification arrives (at its next
   * group_interval), so the DesiredState does not see it firing in between and reopen it.
   */
  confirmResolved(fingerprint: string): void;
  subscribe(listener: (event: AlertObserverEvent) => void): () => void;
}

/** Asks the source of truth whether an alert still fires (verification of an alert-driven fix). */
export interface AlertStatusSource {
  /** False: resolved; true: still firing; undefined: neither Alertmanager nor Prometheus could say. */
  stillFiring(alert: Pick<ReceivedAlert, "fingerprint" | "labels">, signal: AbortSignal): Promise<boolean | undefined>;
}
