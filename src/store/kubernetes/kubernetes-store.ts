import { ApiException, CustomObjectsApi, type ConfigurationOptions, type KubeConfig } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { isDeepStrictEqual } from "node:util";
import { CRD_VERSION } from "../../api/crds.js";
import { validateResource } from "../../api/load.js";
import { API_GROUP, DEFAULT_NAMESPACE } from "../../api/meta.js";
import { KINDS, type Kind, type Resource, type ResourceOf } from "../../api/resources.js";
import {
  ConflictError,
  errorMessage,
  InvalidObjectError,
  NotFoundError,
  StewardError,
  ValidationError,
} from "../../errors.js";
import { describeApiError, statusCode } from "../../kube/api-errors.js";
import type { Fence } from "../../kube/fence.js";
import { MERGE_PATCH, requestOptions } from "../../kube/request-options.js";
import { backoffDelay, parseRetryAfter, type Backoff } from "../../resilience/backoff.js";
import {
  APPLY_CONFLICT_HINT,
  DEFAULT_RESYNC_PERIOD_MS,
  type ApplyResult,
  type InvalidObject,
  type ObjectRef,
  type StatusOf,
  type Store,
  type WatchEvent,
} from "../store.js";
import { Informer, type InformerEvent } from "../../kube/informer.js";

export interface KubernetesStoreOptions {
  /**
   * Lists and watches only these namespaces (an informer per kind and namespace, so RBAC can
   * be granted in these alone); all namespaces when unset or empty. The first is the default
   * namespace of a ref that names none.
   */
  namespaces?: readonly string[];
  /**
   * The kinds `watch` informs about (default: every kind). A reader that shows only some
   * kinds (the console) needs list and watch permission on those alone: an informer on a
   * kind its user may not list would retry forever and never sync.
   */
  kinds?: readonly Kind[];
  /** Timeout of every API call (default 10 s). */
  timeoutMs?: number;
  /** Every cached object is re-delivered to watch listeners as a SYNC event this often (default 10 min; 0: never). */
  resyncPeriodMs?: number;
  /**
   * A watch that delivers nothing, not even a bookmark, for this long is aborted and
   * started again (default 90 s: the API server sends a bookmark about every minute).
   */
  watchdogMs?: number;
  /** timeoutSeconds of each watch request, after which the server ends it (default 240, jittered). */
  watchTimeoutSeconds?: number;
  /** The informers' state: listed, watching, interrupted (and why), resynced. For logs and metrics. */
  onInformerEvent?: (event: KindInformerEvent) => void;
  /** Checked before every write request, retries included (leader election: only the Lease holder writes). */
  fence?: Fence;
  /** An object the informers saw that fails validation; it is not cached (nothing acts on it). */
  onInvalidObject?: (object: InvalidObject) => void;
}

export type KindInformerEvent = InformerEvent & { kind: Kind };

export const DEFAULT_WATCHDOG_MS = 90_000;
const DEFAULT_WATCH_TIMEOUT_SECONDS = 240;

type Raw = Record<string, unknown> & { metadata?: Record<string, unknown> };

/** Optimistic-concurrency retries of a read-modify-write that lost a race (409 Conflict). */
const CONFLICT_RETRIES = 20;
/** Between them: up to 10 ms, doubling to 200 ms (the other writer is done in milliseconds). */
const CONFLICT_BACKOFF: Backoff = { baseMs: 10, maxMs: 200 };
/** Retries of a 429 (throttled, or a new CRD's storage still initializing), after its Retry-After. */
const THROTTLE_RETRIES = 10;
/** Up to 250 ms, doubling to 2 s, and never sooner than the server's Retry-After (up to 2 s). */
const THROTTLE_BACKOFF: Backoff = { baseMs: 250, maxMs: 2_000 };
const JSON_PATCH = "application/json-patch+json";
/** The steps of `call` that change something: each request is checked against the fence. */
const WRITE_STEPS = new Set(["creating", "replacing", "writing status of", "annotating", "deleting"]);
const META_FIELDS = [
  "name",
  "namespace",
  "labels",
  "annotations",
  "uid",
  "generation",
  "resourceVersion",
  "creationTimestamp",
  "deletionTimestamp",
  "finalizers",
  "ownerReferences",
];

/**
 * Resources as custom objects of the steward.dev CRDs. Writes are read-modify-write with the
 * resourceVersion read (409 → read again and retry); status goes through the status
 * subresource; the API server bumps `generation` on spec changes. `watch` is one list+watch
 * informer per kind.
 */
export class KubernetesStore implements Store {
  private readonly api: CustomObjectsApi;
  private readonly informers: Informer<Resource>[];
  private readonly listeners = new Set<(event: WatchEvent) => void>();
  private readonly timeoutMs: number;

  constructor(
    readonly kubeConfig: KubeConfig,
    readonly options: KubernetesStoreOptions = {},
  ) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    const scopes: (string | undefined)[] = options.namespaces?.length ? [...options.namespaces] : [undefined];
    const kinds = options.kinds ?? (Object.keys(KINDS) as Kind[]);
    const pairs = kinds.flatMap((kind) => scopes.map((ns) => ({ info: KINDS[kind], ns })));
    this.informers = pairs.map(({ info, ns }) => {
      const report = (event: InformerEvent): void => options.onInformerEvent?.({ ...event, kind: info.kind });
      return new Informer<Resource>(
        kubeConfig,
        {
          path: `/apis/${API_GROUP}/${CRD_VERSION}/${ns ? `namespaces/${ns}/` : ""}${info.plural}`,
          list: async () => {
            const list = (await this.listRawIn(info.kind, ns)) as {
              items?: unknown[];
              metadata?: { resourceVersion?: string };
            };
            return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? "" };
          },
          parse: (raw) => {
            const result = validateResource(pickKnown(raw as Raw));
            if (result.ok) return result.resource;
            options.onInvalidObject?.(invalidObject(info.kind, raw as Raw, result.problems));
            return undefined;
          },
        },
        {
          resyncPeriodMs: options.resyncPeriodMs ?? DEFAULT_RESYNC_PERIOD_MS,
          watchdogMs: options.watchdogMs ?? DEFAULT_WATCHDOG_MS,
          watchTimeoutSeconds: options.watchTimeoutSeconds ?? DEFAULT_WATCH_TIMEOUT_SECONDS,
          emit: (event) => this.deliver(event, report),
          report,
        },
      );
    });
  }

  /** To every listener, even when one throws: a listener's bug must not starve the others or break the watch. */
  private deliver(event: WatchEvent, report: (event: InformerEvent) => void): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        report({ type: "listener-failed", error: errorMessage(err) });
      }
    }
  }

  async start(): Promise<void> {
    await Promise.all(this.informers.map((informer) => informer.start()));
  }

  close(): Promise<void> {
    this.informers.forEach((informer) => informer.close());
    return Promise.resolve();
  }

  watch(listener: (event: WatchEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async list<K extends Kind>(kind: K, namespace?: string): Promise<ResourceOf<K>[]> {
    const namespaces = namespace !== undefined ? [namespace] : (this.options.namespaces ?? []);
    const lists = (await Promise.all(
      (namespaces.length > 0 ? namespaces : [undefined]).map((ns) => this.listRawIn(kind, ns)),
    )) as { items?: unknown[] }[];
    const objects = lists.flatMap((list) => list.items ?? []).map((raw) => parseObject(kind, raw) as ResourceOf<K>);
    return objects.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  }

  async get<K extends Kind>(kind: K, ref: ObjectRef): Promise<ResourceOf<K> | undefined> {
    const raw = await this.getRaw(kind, ref);
    return raw && (parseObject(kind, raw) as ResourceOf<K>);
  }

  async apply<R extends Resource>(resource: R): Promise<ApplyResult<R>> {
    const { kind } = resource;
    const ref = this.refOf(resource.metadata);
    // Compared with what the server returns, so both sides carry the schema's defaults.
    const parsed = validateResource(toBody(resource, false));
    if (!parsed.ok) throw new ValidationError(parsed.problems);
    const desired = parsed.resource;
    const expected = resource.metadata.resourceVersion;
    for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
      const existing = await this.getRaw(kind, ref);
      // As kubectl does with a resourceVersion in the file: apply only over that version.
      // A 409 from the replace below comes back here and is reported the same way.
      const actual = existing ? versionOf(existing) : "none: it was deleted";
      if (expected !== undefined && expected !== actual)
        throw new ConflictError({ kind, name: ref.name }, expected, actual, APPLY_CONFLICT_HINT);
      try {
        return await this.applyOver(resource, desired, existing);
      } catch (err) {
        if (statusCode(err) !== 409) throw err;
        await sleep(backoffDelay(attempt, CONFLICT_BACKOFF));
      }
    }
    throw new StewardError(`applying ${kind} "${ref.name}": still conflicting after ${CONFLICT_RETRIES} attempts`);
  }

  /** One attempt: create, leave unchanged, or replace `existing` (a 409 from the server is the caller's to retry). */
  private async applyOver<R extends Resource>(
    resource: R,
    desired: Resource,
    existing: Raw | undefined,
  ): Promise<ApplyResult<R>> {
    const { kind } = resource;
    const ref = this.refOf(resource.metadata);
    if (!existing) {
      const created = await this.call("creating", (o) =>
        this.api.createNamespacedCustomObject({ ...this.path(kind, ref), body: toBody(resource, false) }, o),
      );
      return { outcome: "created", object: parseObject(kind, created) as R };
    }
    const current = parseObject(kind, existing);
    if (sameDeclaration(current, desired)) return { outcome: "unchanged", object: current as R };
    const metadata = {
      ...existing.metadata,
      labels: resource.metadata.labels,
      annotations: resource.metadata.annotations,
    };
    const body = { ...existing, metadata, spec: resource.spec };
    const replaced = await this.call("replacing", (o) =>
      this.api.replaceNamespacedCustomObject({ ...this.path(kind, ref), body }, o),
    );
    return { outcome: "configured", object: parseObject(kind, replaced) as R };
  }

  async create<R extends Resource>(resource: R): Promise<R> {
    const { kind } = resource;
    const ref = this.refOf(resource.metadata);
    const hasStatus = KINDS[kind].hasStatus;
    let created: Raw;
    try {
      created = await this.call("creating", (o) =>
        this.api.createNamespacedCustomObject({ ...this.path(kind, ref), body: toBody(resource, !hasStatus) }, o),
      );
    } catch (err) {
      if (statusCode(err) === 409) throw new StewardError(`${kind} "${ref.name}" already exists`, { cause: err });
      throw err;
    }
    const status = (resource as { status?: unknown }).status;
    if (!hasStatus || status === undefined) return parseObject(kind, created) as R;
    const updated = await this.call("writing status of", (o) =>
      this.api.replaceNamespacedCustomObjectStatus({ ...this.path(kind, ref), body: { ...created, status } }, o),
    );
    return parseObject(kind, updated) as R;
  }

  async updateStatus<K extends Kind>(
    kind: K,
    ref: ObjectRef,
    status: NonNullable<StatusOf<K>>,
    options: { resourceVersion?: string } = {},
  ): Promise<ResourceOf<K>> {
    ref = this.refOf(ref);
    const expected = options.resourceVersion;
    if (expected === undefined && KINDS[kind].hasStatus) return this.replaceStatus(kind, ref, status);
    return this.readModifyWriteStatus(kind, ref, status, expected);
  }

  /** A status write conditional on `expected` (or of a kind without a status subresource): GET, then PUT. */
  private async readModifyWriteStatus<K extends Kind>(
    kind: K,
    ref: ObjectRef,
    status: NonNullable<StatusOf<K>>,
    expected: string | undefined,
  ): Promise<ResourceOf<K>> {
    for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
      const existing = await this.getRaw(kind, ref);
      if (!existing) throw new NotFoundError(kind, ref.name);
      const actual = versionOf(existing);
      if (expected !== undefined && expected !== actual)
        throw new ConflictError({ kind, name: ref.name }, expected, actual);
      const body = { ...existing, status };
      try {
        const updated = await this.call("writing status of", (o) =>
          KINDS[kind].hasStatus
            ? this.api.replaceNamespacedCustomObjectStatus({ ...this.path(kind, ref), body }, o)
            : this.api.replaceNamespacedCustomObject({ ...this.path(kind, ref), body }, o),
        );
        return parseObject(kind, updated) as ResourceOf<K>;
      } catch (err) {
        if (statusCode(err) !== 409) throw err;
        if (expected !== undefined) throw new ConflictError({ kind, name: ref.name }, expected, "newer");
        await sleep(backoffDelay(attempt, CONFLICT_BACKOFF));
      }
    }
    throw new StewardError(
      `writing status of ${kind} "${ref.name}": still conflicting after ${CONFLICT_RETRIES} attempts`,
    );
  }

  /**
   * An unconditional status write in one request: a JSON patch that sets the whole status
   * (`add` replaces an existing member). The read-modify-write it replaces cost a GET and a
   * PUT per write, and its PUT could only lose a race to be retried; the outcome is the
   * same, the last writer's status (ADR 0010: half the API requests of a cold start).
   */
  private async replaceStatus<K extends Kind>(
    kind: K,
    ref: ObjectRef,
    status: NonNullable<StatusOf<K>>,
  ): Promise<ResourceOf<K>> {
    try {
      const patched = await this.call(
        "writing status of",
        (o) =>
          this.api.patchNamespacedCustomObjectStatus(
            { ...this.path(kind, ref), body: [{ op: "add", path: "/status", value: status }] },
            o,
          ),
        false,
        JSON_PATCH,
      );
      return parseObject(kind, patched) as ResourceOf<K>;
    } catch (err) {
      if (statusCode(err) === 404) throw new NotFoundError(kind, ref.name);
      throw new StewardError(`writing status of ${kind} "${ref.name}": ${describeApiError(err)}`, { cause: err });
    }
  }

  async annotate<K extends Kind>(
    kind: K,
    ref: ObjectRef,
    annotations: Record<string, string | undefined>,
  ): Promise<ResourceOf<K>> {
    ref = this.refOf(ref);
    const patch = Object.fromEntries(Object.entries(annotations).map(([key, value]) => [key, value ?? null]));
    try {
      const patched = await this.call(
        "annotating",
        (o) =>
          this.api.patchNamespacedCustomObject(
            { ...this.path(kind, ref), body: { metadata: { annotations: patch } } },
            o,
          ),
        false,
        MERGE_PATCH,
      );
      return parseObject(kind, patched) as ResourceOf<K>;
    } catch (err) {
      if (statusCode(err) === 404) throw new NotFoundError(kind, ref.name);
      throw new StewardError(`annotating ${kind} "${ref.name}": ${describeApiError(err)}`, { cause: err });
    }
  }

  async delete(kind: Kind, ref: ObjectRef): Promise<boolean> {
    ref = this.refOf(ref);
    try {
      await this.call("deleting", (o) => this.api.deleteNamespacedCustomObject(this.path(kind, ref), o), false);
      return true;
    } catch (err) {
      if (statusCode(err) === 404) return false;
      throw new StewardError(`deleting ${kind} "${ref.name}": ${describeApiError(err)}`, { cause: err });
    }
  }

  private async getRaw(kind: Kind, ref: ObjectRef): Promise<Raw | undefined> {
    try {
      return await this.call(
        "reading",
        (o) => this.api.getNamespacedCustomObject(this.path(kind, this.refOf(ref)), o),
        false,
      );
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw new StewardError(`reading ${kind} "${ref.name}": ${describeApiError(err)}`, { cause: err });
    }
  }

  /** One namespace's objects of a kind, or every namespace's when `namespace` is undefined. */
  private listRawIn(kind: Kind, namespace: string | undefined): Promise<unknown> {
    const base = { group: API_GROUP, version: CRD_VERSION, plural: KINDS[kind].plural };
    return this.call("listing", (o) =>
      namespace
        ? this.api.listNamespacedCustomObject({ ...base, namespace }, o)
        : this.api.listClusterCustomObject(base, o),
    );
  }

  /**
   * Runs one API call with the timeout, retrying 429 (throttled, or a new CRD's storage still
   * initializing) after its Retry-After. Errors other than 409 (which callers handle) are
   * wrapped with the step unless `wrap` is false (the caller maps status codes itself).
   */
  private async call(
    step: string,
    request: (options: ConfigurationOptions) => Promise<unknown>,
    wrap = true,
    contentType?: string,
  ): Promise<Raw> {
    for (let attempt = 0; ; attempt++) {
      // Synchronously before the request is made, on every attempt: a retry is a new write.
      if (WRITE_STEPS.has(step)) this.options.fence?.check(`${step} a steward.dev object`);
      try {
        return (await request(requestOptions({ timeoutMs: this.timeoutMs, contentType }))) as Raw;
      } catch (err) {
        if (attempt < THROTTLE_RETRIES && statusCode(err) === 429) {
          await sleep(backoffDelay(attempt, THROTTLE_BACKOFF, { retryAfterMs: retryAfterOf(err) }));
          continue;
        }
        if (!wrap || statusCode(err) === 409) throw err;
        throw new StewardError(`${step} a steward.dev object: ${describeApiError(err)}`, { cause: err });
      }
    }
  }

  private path(
    kind: Kind,
    ref: ObjectRef,
  ): { group: string; version: string; namespace: string; plural: string; name: string } {
    return {
      group: API_GROUP,
      version: CRD_VERSION,
      namespace: ref.namespace,
      plural: KINDS[kind].plural,
      name: ref.name,
    };
  }

  private refOf(ref: ObjectRef): ObjectRef {
    return { namespace: ref.namespace || this.options.namespaces?.[0] || DEFAULT_NAMESPACE, name: ref.name };
  }
}

/** What we send: apiVersion, kind, the user-owned metadata and spec (and status when asked). */
function toBody(resource: Resource, withStatus: boolean): Raw {
  const { labels, annotations, name, namespace } = resource.metadata;
  const body: Raw = {
    apiVersion: resource.apiVersion,
    kind: resource.kind,
    metadata: { name, namespace, labels, annotations },
    spec: resource.spec,
  };
  const status = (resource as { status?: unknown }).status;
  if (withStatus && status !== undefined) body.status = status;
  return JSON.parse(JSON.stringify(body)) as Raw;
}

/** Drops server-owned metadata (managedFields…) the schema does not describe. */
function pickKnown(raw: Raw): Raw {
  const metadata = raw.metadata ?? {};
  return {
    ...raw,
    metadata: Object.fromEntries(META_FIELDS.filter((key) => key in metadata).map((key) => [key, metadata[key]])),
  };
}

function invalidObject(kind: Kind, raw: Raw, problems: readonly string[]): InvalidObject {
  const metadata = raw.metadata ?? {};
  const generation = metadata.generation;
  return {
    kind,
    namespace: typeof metadata.namespace === "string" ? metadata.namespace : DEFAULT_NAMESPACE,
    name: typeof metadata.name === "string" ? metadata.name : "",
    ...(typeof generation === "number" ? { generation } : {}),
    problems,
    status: raw.status,
  };
}

function parseObject(kind: Kind, raw: unknown): Resource {
  const result = validateResource(pickKnown(raw as Raw));
  if (!result.ok) throw new InvalidObjectError(kind, String((raw as Raw).metadata?.name), result.problems);
  return result.resource;
}

function versionOf(raw: Raw): string {
  const version = raw.metadata?.resourceVersion;
  return typeof version === "string" ? version : "";
}

/** A failed call's Retry-After, in milliseconds. */
function retryAfterOf(err: unknown): number | undefined {
  return err instanceof ApiException
    ? parseRetryAfter((err as ApiException<unknown>).headers["retry-after"])
    : undefined;
}

/** The same spec, labels and annotations: applying `desired` over `current` would change nothing. */
function sameDeclaration(current: Resource, desired: Resource): boolean {
  return (
    isDeepStrictEqual(current.spec, desired.spec) &&
    isDeepStrictEqual(nonEmpty(current.metadata.labels), nonEmpty(desired.metadata.labels)) &&
    isDeepStrictEqual(nonEmpty(current.metadata.annotations), nonEmpty(desired.metadata.annotations))
  );
}

function nonEmpty(record: Record<string, string> | undefined): Record<string, string> | undefined {
  return record && Object.keys(record).length > 0 ? record : undefined;
}
