import { isDeepStrictEqual } from "node:util";
import type { AlertSpec } from "../api/alerts.js";
import type { Target } from "../api/desired-state.js";
import { DELIVERY_LEDGER_ANNOTATION } from "../api/notifications.js";
import type { AgentRemediation } from "../api/remediation.js";
import { objectKey } from "../api/resources.js";
import type { Logger } from "../telemetry/logging.js";
import type { AlertObserverEvent, DockerObserverEvent, KubernetesObserverEvent } from "../observe/types.js";
import type { RegisteredQuery } from "../observe/query-evaluator.js";
import type { WatchEvent } from "../store/store.js";
import type { WorkQueue } from "./queue.js";
import { matchingAlertSpec } from "./drift.js";
import { isOpen } from "./remediations.js";
import { inDockerTarget } from "./target.js";
import { evaluationIntervalMs } from "./invariants.js";

/**
 * Which DesiredStates watch which containers, so a Docker event enqueues only the keys it
 * concerns. Fed by the store's watch; holds targets, not objects (reconciles re-read).
 */
export class DesiredStateIndex {
  private readonly targets = new Map<string, Target>();
  private readonly alerts = new Map<string, readonly AlertSpec[]>();

  apply(event: WatchEvent): void {
    if (event.object.kind !== "DesiredState") return;
    const key = objectKey("DesiredState", event.object.metadata.namespace, event.object.metadata.name);
    if (event.type === "DELETED") {
      this.targets.delete(key);
      this.alerts.delete(key);
      return;
    }
    this.targets.set(key, event.object.spec.target);
    if (event.object.spec.alerts.length > 0) this.alerts.set(key, event.object.spec.alerts);
    else this.alerts.delete(key);
  }

  /** The DesiredStates whose spec.alerts match an alert's labels. */
  keysForAlert(labels: Readonly<Record<string, string>>): string[] {
    return [...this.alerts].filter(([, specs]) => matchingAlertSpec(specs, labels) !== undefined).map(([key]) => key);
  }

  /** Every DesiredState that declares alerts. */
  alertKeys(): string[] {
    return [...this.alerts.keys()];
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
 * reacting to them would reconcile in a loop. A remediation's change enqueues its
 * DesiredState only when it is one the DesiredState reconciler acts on
 * (`remediationConcernsDesiredState`): not on every step of an agent session.
 */
export function enqueueForStoreEvent(event: WatchEvent, queue: WorkQueue): void {
  const { object } = event;
  if (object.kind === "DesiredState") {
    const specChanged = event.type !== "MODIFIED" || event.previous?.metadata.generation !== object.metadata.generation;
    if (specChanged) queue.add(objectKey("DesiredState", object.metadata.namespace, object.metadata.name));
    return;
  }
  if (object.kind === "AgentRemediation" && remediationConcernsDesiredState(event)) {
    queue.add(desiredStateKeyOf(object));
  }
}

/**
 * Whether a remediation's change matters to its DesiredState's reconciler, which reads of a
 * remediation only whether it is open (its phase), when it closed, and its spec. Its
 * appearing, going and those changes do; the rest of a status (usage, actions, messages:
 * what an agent session writes on every turn) does not. Pure.
 */
export function remediationConcernsDesiredState(event: WatchEvent): boolean {
  const change = remediationModified(event);
  if (!change) return true;
  const { previous, object } = change;
  return (
    previous.status?.phase !== object.status?.phase ||
    previous.status?.closedAt !== object.status?.closedAt ||
    previous.metadata.generation !== object.metadata.generation
  );
}

/**
 * Whether a change of a remediation is its owner's own status write: status only, on a
 * remediation whose opening status was already there. The owner does not need to hear of
 * its own writes (controller-runtime's generation- and annotation-changed predicates):
 * approvals (annotations), spec changes and the opening status (the creator's write) do
 * bring the remediation back. Pure.
 */
export function isOwnStatusWrite(event: WatchEvent): boolean {
  const change = remediationModified(event);
  if (!change) return false;
  const { previous, object } = change;
  if (previous.status?.openedAt === undefined) return false;
  return (
    previous.metadata.generation === object.metadata.generation &&
    isDeepStrictEqual(previous.metadata.annotations ?? {}, object.metadata.annotations ?? {})
  );
}

/** A remediation's MODIFIED event with the object before it, else undefined. */
function remediationModified(event: WatchEvent): { previous: AgentRemediation; object: AgentRemediation } | undefined {
  const { object, previous } = event;
  if (event.type !== "MODIFIED" || previous?.kind !== "AgentRemediation" || object.kind !== "AgentRemediation")
    return undefined;
  return { previous, object };
}

function desiredStateKeyOf(remediation: AgentRemediation): string {
  const owner = remediation.spec.desiredStateRef;
  return objectKey("DesiredState", owner.namespace ?? remediation.metadata.namespace, owner.name);
}

/**
 * The open remediations of each DesiredState, so a change of the DesiredState (its status:
 * the drift may have cleared; its deletion) enqueues the remediations whose owner must look
 * again. Fed by the store's watch; holds keys, not objects.
 */
export class OpenRemediationIndex {
  private readonly byDesiredState = new Map<string, Set<string>>();

  apply(event: WatchEvent): void {
    const { object } = event;
    if (object.kind !== "AgentRemediation") return;
    const owner = desiredStateKeyOf(object);
    const key = objectKey("AgentRemediation", object.metadata.namespace, object.metadata.name);
    const keys = this.byDesiredState.get(owner) ?? new Set<string>();
    if (event.type !== "DELETED" && isOpen(object)) keys.add(key);
    else keys.delete(key);
    if (keys.size > 0) this.byDesiredState.set(owner, keys);
    else this.byDesiredState.delete(owner);
  }

  keysFor(desiredStateKey: string): string[] {
    return [...(this.byDesiredState.get(desiredStateKey) ?? [])];
  }
}

/**
 * Enqueues the remediations a store change concerns, for their owner: a remediation's own
 * change unless it is the owner's status write, and the open remediations of a
 * DesiredState that changed or went away.
 */
export function enqueueRemediationsForStoreEvent(
  event: WatchEvent,
  index: OpenRemediationIndex,
  queue: WorkQueue,
): void {
  const { object } = event;
  const { namespace, name } = object.metadata;
  if (object.kind === "AgentRemediation") {
    if (!isOwnStatusWrite(event)) queue.add(objectKey("AgentRemediation", namespace, name));
    return;
  }
  if (object.kind === "DesiredState") {
    for (const key of index.keysFor(objectKey("DesiredState", namespace, name))) queue.add(key);
  }
}

/**
 * Whether a remediation's change matters to the notifier, which reads of a remediation only
 * its outbox (status.notifications) and its delivery ledger (an annotation). What an agent
 * session writes on every turn does not; its appearing, a resync and those two do. Pure.
 */
export function remediationConcernsNotifier(event: WatchEvent): boolean {
  const change = remediationModified(event);
  if (!change) return event.object.kind === "AgentRemediation";
  const { previous, object } = change;
  return (
    !isDeepStrictEqual(previous.status?.notifications, object.status?.notifications) ||
    previous.metadata.annotations?.[DELIVERY_LEDGER_ANNOTATION] !==
      object.metadata.annotations?.[DELIVERY_LEDGER_ANNOTATION]
  );
}

/** Enqueues a remediation for the notifier when its outbox or ledger may have changed, or it went away. */
export function enqueueNotificationsForStoreEvent(event: WatchEvent, queue: WorkQueue): void {
  if (!remediationConcernsNotifier(event)) return;
  const { namespace, name } = event.object.metadata;
  queue.add(objectKey("AgentRemediation", namespace, name));
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

/**
 * An alert changed: the DesiredStates it belongs to look again (after a resync, all that
 * declare alerts). Returns how many DesiredStates the alert concerned, so the caller can
 * count and report an alert nobody declared (a resync concerns every such DesiredState).
 */
export function enqueueForAlertEvent(event: AlertObserverEvent, index: DesiredStateIndex, queue: WorkQueue): number {
  const keys = event.type === "alert" ? index.keysForAlert(event.alert.labels) : index.alertKeys();
  for (const key of keys) queue.add(key);
  return keys.length;
}
