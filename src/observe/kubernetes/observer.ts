import { AppsV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../../telemetry/logging.js";
import { errorMessage } from "../../errors.js";
import { backoffDelay, type Backoff } from "../../resilience/backoff.js";
import { Informer, type InformerEvent } from "../../kube/informer.js";
import { requestOptions } from "../../kube/request-options.js";
import type {
  KubernetesObserver,
  KubernetesObserverEvent,
  NamespaceView,
  PodSnapshot,
  ReplicaSetSnapshot,
  WorkloadSnapshot,
} from "../types.js";
import { toPodSnapshot, toReplicaSetSnapshot, toWorkloadSnapshot } from "./snapshot.js";

export interface KubernetesWorkloadObserverOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** Timeout of each list call (default 10 s). */
  timeoutMs?: number;
  /** Informer settings; the defaults suit production, tests shorten them. */
  resyncPeriodMs?: number;
  watchdogMs?: number;
  watchTimeoutSeconds?: number;
}

/** A snapshot with the metadata the informer keys and versions it by. */
interface Cached<S> {
  metadata: { namespace: string; name: string; resourceVersion?: string };
  snapshot: S;
}

const DEFAULT_RESYNC_MS = 10 * 60_000;
const DEFAULT_WATCHDOG_MS = 90_000;
const DEFAULT_WATCH_TIMEOUT_S = 300;
/** A first list that failed (API server down, RBAC not yet granted) is tried again within 1 s, doubling to 30 s. */
const LIST_RETRY: Backoff = { baseMs: 1_000, maxMs: 30_000 };

function cached<S>(raw: unknown, snapshot: S | undefined): Cached<S> | undefined {
  const metadata = (
    raw as { metadata?: { namespace?: unknown; name?: unknown; resourceVersion?: unknown } } | undefined
  )?.metadata;
  if (!snapshot || typeof metadata?.namespace !== "string" || typeof metadata.name !== "string") return undefined;
  const resourceVersion = typeof metadata.resourceVersion === "string" ? metadata.resourceVersion : undefined;
  return { metadata: { namespace: metadata.namespace, name: metadata.name, resourceVersion }, snapshot };
}

type Snapshot = WorkloadSnapshot | ReplicaSetSnapshot | PodSnapshot;

/** The four informers of one namespace and what they hold. */
class NamespaceWatch {
  readonly deployments = new Map<string, WorkloadSnapshot>();
  readonly statefulSets = new Map<string, WorkloadSnapshot>();
  readonly replicaSets = new Map<string, ReplicaSetSnapshot>();
  readonly pods = new Map<string, PodSnapshot>();
  readonly informers: Informer<Cached<Snapshot>>[] = [];
  listed = 0;
  error: string | undefined;

  view(): NamespaceView {
    return {
      synced: this.listed === this.informers.length,
      workloads: [...this.deployments.values(), ...this.statefulSets.values()],
      replicaSets: [...this.replicaSets.values()],
      pods: [...this.pods.values()],
      ...(this.error ? { error: this.error } : {}),
    };
  }
}

/**
 * Deployments, StatefulSets, ReplicaSets and Pods of the namespaces Kubernetes targets name. A namespace
 * is watched from the first time a DesiredState asks for it, with the store's list+watch
 * informer (watchdog, 410 relist, resync), never cluster-wide: Steward needs read access
 * only where its targets are, and its cost grows with those namespaces, not the cluster.
 */
export class KubernetesWorkloadObserver implements KubernetesObserver {
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly namespaces = new Map<string, NamespaceWatch>();
  private readonly listeners = new Set<(event: KubernetesObserverEvent) => void>();
  private closed = false;

  constructor(private readonly options: KubernetesWorkloadObserverOptions) {
    this.apps = options.kubeConfig.makeApiClient(AppsV1Api);
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
  }

  subscribe(listener: (event: KubernetesObserverEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  namespace(name: string): NamespaceView {
    let watch = this.namespaces.get(name);
    if (!watch && !this.closed) {
      watch = this.startWatching(name);
      this.namespaces.set(name, watch);
    }
    return (
      watch?.view() ?? { synced: false, workloads: [], replicaSets: [], pods: [], error: "the observer is closed" }
    );
  }

  close(): Promise<void> {
    this.closed = true;
    for (const watch of this.namespaces.values()) for (const informer of watch.informers) informer.close();
    return Promise.resolve();
  }

  private startWatching(namespace: string): NamespaceWatch {
    const watch = new NamespaceWatch();
    const list = { namespace };
    const options = (): ReturnType<typeof requestOptions> =>
      requestOptions({ timeoutMs: this.options.timeoutMs ?? 10_000 });
    const collections = [
      {
        path: `/apis/apps/v1/namespaces/${namespace}/deployments`,
        into: watch.deployments,
        list: () => this.apps.listNamespacedDeployment(list, options()),
        parse: (raw: unknown) => toWorkloadSnapshot("Deployment", raw),
      },
      {
        path: `/apis/apps/v1/namespaces/${namespace}/statefulsets`,
        into: watch.statefulSets,
        list: () => this.apps.listNamespacedStatefulSet(list, options()),
        parse: (raw: unknown) => toWorkloadSnapshot("StatefulSet", raw),
      },
      {
        // Only to link a Deployment to its pods (Pod → ReplicaSet → Deployment owner references).
        path: `/apis/apps/v1/namespaces/${namespace}/replicasets`,
        into: watch.replicaSets,
        list: () => this.apps.listNamespacedReplicaSet(list, options()),
        parse: toReplicaSetSnapshot,
      },
      {
        path: `/api/v1/namespaces/${namespace}/pods`,
        into: watch.pods,
        list: () => this.core.listNamespacedPod(list, options()),
        parse: toPodSnapshot,
      },
    ] as const;
    for (const collection of collections) {
      const into = collection.into as Map<string, Snapshot>;
      const informer = new Informer<Cached<Snapshot>>(
        this.options.kubeConfig,
        {
          path: collection.path,
          list: async () => {
            const result = await collection.list();
            return { items: result.items, resourceVersion: result.metadata?.resourceVersion ?? "" };
          },
          parse: (raw) => cached<Snapshot>(raw, collection.parse(raw)),
        },
        {
          resyncPeriodMs: this.options.resyncPeriodMs ?? DEFAULT_RESYNC_MS,
          watchdogMs: this.options.watchdogMs ?? DEFAULT_WATCHDOG_MS,
          watchTimeoutSeconds: this.options.watchTimeoutSeconds ?? DEFAULT_WATCH_TIMEOUT_S,
          emit: (event) => {
            if (event.type === "DELETED") into.delete(event.object.metadata.name);
            else into.set(event.object.metadata.name, event.object.snapshot);
            this.changed(namespace);
          },
          report: (event) => this.report(watch, { namespace, path: collection.path, event }),
        },
      );
      watch.informers.push(informer);
      this.startInformer(informer, { watch, namespace, path: collection.path, attempt: 0 });
    }
    return watch;
  }

  /** The first list can fail (API server down, RBAC not yet granted): try again with backoff until it works. */
  private startInformer(
    informer: Informer<Cached<Snapshot>>,
    at: { watch: NamespaceWatch; namespace: string; path: string; attempt: number },
  ): void {
    informer.start().then(
      () => {
        at.watch.listed += 1;
        this.changed(at.namespace);
      },
      (err: unknown) => {
        at.watch.error = errorMessage(err);
        const retryInMs = backoffDelay(at.attempt, LIST_RETRY);
        this.options.logger.warn("cannot list Kubernetes workloads", {
          namespace: at.namespace,
          path: at.path,
          error: at.watch.error,
          retryInMs,
        });
        this.changed(at.namespace);
        setTimeout(() => {
          if (!this.closed) this.startInformer(informer, { ...at, attempt: at.attempt + 1 });
        }, retryInMs).unref();
      },
    );
  }

  private report(
    watch: NamespaceWatch,
    { namespace, path, event }: { namespace: string; path: string; event: InformerEvent },
  ): void {
    if (event.type === "listed" || event.type === "watching") watch.error = undefined;
    if (event.type === "interrupted" && event.reason !== "ended") {
      watch.error = event.error ?? event.reason;
      this.options.logger.warn("Kubernetes watch interrupted", {
        namespace,
        path,
        reason: event.reason,
        retryInMs: event.retryInMs,
        error: event.error,
      });
    }
  }

  private changed(namespace: string): void {
    for (const listener of this.listeners) listener({ type: "changed", namespace });
  }
}
