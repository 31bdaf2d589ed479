import type { Kind, Resource, ResourceOf } from "../api/resources.js";
import type { WatchEventType } from "../kube/informer.js";

export type { WatchEventType };

/** A change to one object, or a resync of it. Handlers enqueue keys from it; they never act on it directly. */
export interface WatchEvent {
  type: WatchEventType;
  object: Resource;
  /** The object before the change, for MODIFIED events when the store knows it. */
  previous?: Resource;
}

/** How often a store re-delivers every object as a SYNC event, unless told otherwise. */
export const DEFAULT_RESYNC_PERIOD_MS = 600_000;

/** What a user whose `apply` carried a stale `metadata.resourceVersion` can do about it. */
export const APPLY_CONFLICT_HINT =
  "get it again (steward get -o yaml), make your change there and apply that, or remove metadata.resourceVersion from the file to apply regardless";

export type ApplyOutcome = "created" | "configured" | "unchanged";

export interface ApplyResult<R extends Resource = Resource> {
  outcome: ApplyOutcome;
  object: R;
}

export interface ObjectRef {
  namespace: string;
  name: string;
}

/**
 * An object the store holds that fails validation (a CRD older than Steward's let it in):
 * it is reported, never silently dropped, so its controller can say so in its status.
 */
export interface InvalidObject {
  kind: Kind;
  namespace: string;
  name: string;
  generation?: number;
  /** What is wrong, with field paths, as `steward apply` would say it. */
  problems: readonly string[];
  /** The object's status as stored, unvalidated. */
  status?: unknown;
}

/**
 * Where resources live. Two implementations (the file store and the Kubernetes store) pass
 * the same contract tests, so the reconciler works against either.
 *
 * Contract:
 * - `apply` writes metadata labels/annotations and spec, never status; `generation` bumps
 *   only when the spec changes; `resourceVersion` changes on every write. An applied
 *   resource that carries `metadata.resourceVersion` is applied only over that version
 *   (else ConflictError, and nothing is written).
 * - `updateStatus` writes status only, never spec or metadata; with `resourceVersion` it
 *   fails with ConflictError if the object changed since it was read.
 * - `watch` reports every change made by any process; a listener subscribed before
 *   `start()` first receives an ADDED event for every existing object (an informer's
 *   initial list). Every resync period (a store option, default 10 min) it receives a
 *   SYNC event for every object, changed or not.
 */
export interface Store {
  start(): Promise<void>;
  close(): Promise<void>;
  list<K extends Kind>(kind: K, namespace?: string): Promise<ResourceOf<K>[]>;
  get<K extends Kind>(kind: K, ref: ObjectRef): Promise<ResourceOf<K> | undefined>;
  apply<R extends Resource>(resource: R): Promise<ApplyResult<R>>;
  /** Creates a new object with its status; fails if one with the same name exists. */
  create<R extends Resource>(resource: R): Promise<R>;
  updateStatus<K extends Kind>(
    kind: K,
    ref: ObjectRef,
    status: NonNullable<StatusOf<K>>,
    options?: { resourceVersion?: string },
  ): Promise<ResourceOf<K>>;
  /** Sets (or, with undefined, removes) metadata annotations; used for approvals. */
  annotate<K extends Kind>(
    kind: K,
    ref: ObjectRef,
    annotations: Record<string, string | undefined>,
  ): Promise<ResourceOf<K>>;
  delete(kind: Kind, ref: ObjectRef): Promise<boolean>;
  watch(listener: (event: WatchEvent) => void): () => void;
}

export type StatusOf<K extends Kind> = ResourceOf<K> extends { status?: infer S } ? S : never;
