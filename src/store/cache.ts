import { objectKey, type Kind, type Resource, type ResourceOf } from "../api/resources.js";
import { DEFAULT_NAMESPACE } from "../api/meta.js";
import type { ApplyResult, ObjectRef, StatusOf, Store, WatchEvent } from "./store.js";

/**
 * A Store whose reads come from memory: every object the inner store's watch reports, plus
 * what this process itself writes through it (read-your-writes). This is controller-runtime's
 * cached client: a reconcile then costs no API request and no file read, so at steady state
 * the cost grows with changes, not with the number of objects (the bench's profile: a GET
 * and a LIST per reconcile reached the API server 8,000 times a minute with 1,000
 * DesiredStates; the file store parsed YAML on every reconcile).
 *
 * Caveats:
 * - Objects it returns are shared and frozen: copy before changing one.
 * - A write made by another process is seen once its watch event arrives (milliseconds);
 *   a reconcile reads then, as it always read whatever was current.
 * - An event older than what this process wrote (a lower resourceVersion of the same uid)
 *   is ignored, so a late event never rolls the cache back past our own write.
 */
export class CachedStore implements Store {
  private readonly objects = new Map<string, Resource>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly inner: Store) {}

  /** Subscribes, then starts the inner store, whose initial list fills the cache. */
  async start(): Promise<void> {
    this.unsubscribe ??= this.inner.watch((event) => this.observe(event));
    await this.inner.start();
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.inner.close();
  }

  list<K extends Kind>(kind: K, namespace?: string): Promise<ResourceOf<K>[]> {
    const found: ResourceOf<K>[] = [];
    for (const object of this.objects.values()) {
      if (object.kind === kind && (namespace === undefined || object.metadata.namespace === namespace))
        found.push(object as ResourceOf<K>);
    }
    return Promise.resolve(found.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)));
  }

  get<K extends Kind>(kind: K, ref: ObjectRef): Promise<ResourceOf<K> | undefined> {
    return Promise.resolve(
      this.objects.get(objectKey(kind, ref.namespace || DEFAULT_NAMESPACE, ref.name)) as ResourceOf<K> | undefined,
    );
  }

  async apply<R extends Resource>(resource: R): Promise<ApplyResult<R>> {
    const result = await this.inner.apply(resource);
    this.remember(result.object);
    return result;
  }

  async create<R extends Resource>(resource: R): Promise<R> {
    return this.remember(await this.inner.create(resource));
  }

  async updateStatus<K extends Kind>(
    kind: K,
    ref: ObjectRef,
    status: NonNullable<StatusOf<K>>,
    options?: { resourceVersion?: string },
  ): Promise<ResourceOf<K>> {
    return this.remember(await this.inner.updateStatus(kind, ref, status, options));
  }

  async annotate<K extends Kind>(
    kind: K,
    ref: ObjectRef,
    annotations: Record<string, string | undefined>,
  ): Promise<ResourceOf<K>> {
    return this.remember(await this.inner.annotate(kind, ref, annotations));
  }

  async delete(kind: Kind, ref: ObjectRef): Promise<boolean> {
    const deleted = await this.inner.delete(kind, ref);
    this.objects.delete(objectKey(kind, ref.namespace || DEFAULT_NAMESPACE, ref.name));
    return deleted;
  }

  watch(listener: (event: WatchEvent) => void): () => void {
    return this.inner.watch(listener);
  }

  private observe(event: WatchEvent): void {
    const key = keyOf(event.object);
    if (event.type === "DELETED") {
      if (this.objects.get(key)?.metadata.uid === event.object.metadata.uid) this.objects.delete(key);
      return;
    }
    this.remember(event.object);
  }

  /**
   * Keeps a frozen copy unless the cache already holds this or a newer version of the same
   * object (a write's result, then its watch event); returns what the caller gave.
   */
  private remember<R extends Resource>(object: R): R {
    const key = keyOf(object);
    const held = this.objects.get(key);
    if (!olderThan(object, held) && !sameVersion(object, held))
      this.objects.set(key, deepFreeze(structuredClone(object)));
    return object;
  }
}

function keyOf(object: Resource): string {
  return objectKey(object.kind, object.metadata.namespace, object.metadata.name);
}

/**
 * Both stores' resourceVersions are integers that grow with every write of an object (an
 * etcd revision; the file store's per-object counter); anything else is never called older.
 */
function olderThan(candidate: Resource, held: Resource | undefined): boolean {
  if (!held || held.metadata.uid !== candidate.metadata.uid) return false;
  const a = Number(candidate.metadata.resourceVersion);
  const b = Number(held.metadata.resourceVersion);
  return Number.isSafeInteger(a) && Number.isSafeInteger(b) && a < b;
}

/** The same object at the same resourceVersion: the same content (both stores bump it on every write). */
function sameVersion(candidate: Resource, held: Resource | undefined): boolean {
  return (
    held !== undefined &&
    held.metadata.uid === candidate.metadata.uid &&
    held.metadata.resourceVersion !== undefined &&
    held.metadata.resourceVersion === candidate.metadata.resourceVersion
  );
}

function deepFreeze<T>(value: T): T {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return value;
  for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
}
