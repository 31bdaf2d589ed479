import type { Target } from "../api/desired-state.js";
import { objectKey } from "../api/resources.js";
import type { Logger } from "../telemetry/logging.js";
import type { DockerObserverEvent, KubernetesObserverEvent } from "../observe/types.js";
import type { RegisteredQuery } from "../observe/query-evaluator.js";
import type { WatchEvent } from "../store/store.js";
import type { WorkQueue } from "./queue.js";
import { inDockerTarget } from "./target.js";
import { evaluationIntervalMs } from "./invariants.js";

/**
 * Which DesiredStates watch which containers, so a Docker event enqueues only the keys it
 * concerns. Fed by the store's watch; holds targets, not objects (reconciles re-read).
 */
export class DesiredStateIndex {
  private readonly targets = new Map<string, Target>();

  apply(event: WatchEvent): void {
    if (event.object.kind !== "DesiredState") return;
    const key = objectKey("DesiredState", event.object.metadata.namespace, event.object.metadata.name);
    if (event.type === "DELETED") this.targets.delete(key);
    else this.targets.set(key, event.object.spec.target);
  }

  keys(): string[] {
    return [...this.targets.keys()];
  }

  /** The namespaces Kubernetes targets name, so their workloads are listed before the first reconcile. */
  kubernetesNamespaces(): string[] {
    return [...new Set([...this.targets.values()].flatMap((t) => (t.kubernetes ? [t.kubernetes.namespace] : [])))];
  }

  keysForNamespace(namespace: string): string[] {
    return [...this.targets].filter(([, target]) => target.kubernetes?.namespace === namespace).map(([key]) => key);
  }

  keysFor(event: Extract<DockerObserverEvent, { type: "container" }>): string[] {
    const containers = [event.snapshot, event.previous].filter((c) => c !== undefined);
    return [...this.targets]
      .filter(([, target]) => containers.some((c) => inDockerTarget(target, c)))
      .map(([key]) => key);
  }
}

/**
 * Enqueues the DesiredState a store change concerns. Status-only updates of a DesiredState
 * (generation unchanged) are filtered out: they are the controller's own writes, and
 * reacting to them would reconcile in a loop. A remediation's change enqueues its owner.
 */
export function enqueueForStoreEvent(event: WatchEvent, queue: WorkQueue): void {
  const { object } = event;
  if (object.kind === "DesiredState") {
    const specChanged = event.type !== "MODIFIED" || event.previous?.metadata.generation !== object.metadata.generation;
    if (specChanged) queue.add(objectKey("DesiredState", object.metadata.namespace, object.metadata.name));
    return;
  }
  if (object.kind === "AgentRemediation") {
    const owner = object.spec.desiredStateRef;
    queue.add(objectKey("DesiredState", owner.namespace ?? object.metadata.namespace, owner.name));
  }
}

/** What registerInvariants needs of a QueryEvaluator. */
export interface InvariantQueries {
  register(owner: string, queries: readonly RegisteredQuery[]): void;
  unregister(owner: string): void;
}

/**
 * Keeps the evaluator's queries equal to the DesiredStates' invariants: each DesiredState
 * key owns its invariants' queries at its interval. The evaluator then enqueues a key when
 * one of its results changes (see QueryEvaluator).
 */
export function registerInvariants(event: WatchEvent, evaluator: InvariantQueries): void {
  const { object } = event;
  if (object.kind !== "DesiredState") return;
  const key = objectKey("DesiredState", object.metadata.namespace, object.metadata.name);
  if (event.type === "DELETED") return evaluator.unregister(key);
  const intervalMs = evaluationIntervalMs(object.spec);
  evaluator.register(
    key,
    object.spec.invariants.map((i) => ({ expr: i.query, intervalMs })),
  );
}

export function enqueueForDockerEvent(
  event: DockerObserverEvent,
  index: DesiredStateIndex,
  queue: WorkQueue,
  logger: Logger,
): void {
  switch (event.type) {
    case "container":
      for (const key of index.keysFor(event)) queue.add(key);
      return;
    case "resynced":
    case "connection":
      for (const key of index.keys()) queue.add(key);
      return;
    case "malformed":
      logger.warn("dropped a malformed Docker event", { line: event.line.slice(0, 200), error: event.error });
      return;
  }
}

/** A workload or pod changed in a watched namespace: every DesiredState targeting it looks again. */
export function enqueueForKubernetesEvent(
  event: KubernetesObserverEvent,
  index: DesiredStateIndex,
  queue: WorkQueue,
): void {
  for (const key of index.keysForNamespace(event.namespace)) queue.add(key);
}
