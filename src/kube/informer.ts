import type { KubeConfig } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { errorMessage, StewardError } from "../errors.js";
import { backoffDelay, jittered, type Backoff } from "../resilience/backoff.js";
import { watchStream, WatchStatusError, type WatchLine } from "./watch-stream.js";

export interface ListResult {
  items: unknown[];
  resourceVersion: string;
}

/** What an informer caches: anything keyed by namespace/name and versioned by resourceVersion. */
export interface Cacheable {
  metadata: { namespace: string; name: string; resourceVersion?: string };
}

/**
 * ADDED, MODIFIED, DELETED: a change. SYNC: no change; the periodic resync re-delivers every
 * object the store knows, so a level-triggered consumer looks at each one again (a key it
 * dropped, a missed event), as client-go's resync does. Consumers that only care about
 * changes (`get -w`) ignore it.
 */
export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "SYNC";

/** The store's WatchEvent, for any cached type. */
export interface InformerWatchEvent<T extends Cacheable> {
  type: WatchEventType;
  object: T;
  previous?: T;
}

export interface InformerSource<T extends Cacheable> {
  /** The collection's API path, e.g. `/apis/steward.dev/v1alpha1/namespaces/default/desiredstates`. */
  path: string;
  /** Lists the collection; must have a timeout (the store's API calls do). */
  list(): Promise<ListResult>;
  /** Validates one object from the server; undefined when it is not one to cache. */
  parse(raw: unknown): T | undefined;
}

export const INTERRUPT_REASONS = [
  /** The server ended the request when its timeoutSeconds ran out: the normal cycle. */
  "ended",
  /** Nothing arrived, not even a bookmark, within the watchdog bound; or the server did not end the request on time. */
  "watchdog",
  /** 410 Gone: the resourceVersion was compacted away; the informer relists. */
  "expired",
  /** The request failed: connection refused or reset, a non-200 answer, an ERROR event. */
  "failed",
  /** The relist after an expiry or a failure failed. */
  "list-failed",
] as const;
export type InterruptReason = (typeof INTERRUPT_REASONS)[number];

/** What an informer reports about itself; logs and metrics subscribe (see informer-report.ts). */
export type InformerEvent =
  /** The collection was listed: `count` objects are cached, the watch starts from `resourceVersion`. */
  | { type: "listed"; count: number; resourceVersion: string }
  /** A watch request was answered. `downMs` is set after an interruption other than a normal end: how long events did not flow. */
  | { type: "watching"; resourceVersion: string; downMs?: number }
  /** The watch (or relist) stopped; the informer tries again after `retryInMs`. */
  | { type: "interrupted"; reason: InterruptReason; retryInMs: number; error?: string }
  /** The periodic resync re-delivered every cached object as a SYNC event. */
  | { type: "resynced"; count: number }
  /** A watch listener threw; the event was still delivered to the others. */
  | { type: "listener-failed"; error: string };

export interface InformerOptions<T extends Cacheable> {
  /** Every cached object is re-delivered as a SYNC event this often; 0 disables the resync. */
  resyncPeriodMs: number;
  /** A watch silent (no event, no bookmark) for longer is aborted and started again from the last resourceVersion. */
  watchdogMs: number;
  /** The server ends each watch request after about this long (jittered up to +25 %). */
  watchTimeoutSeconds: number;
  /** Delivers an event to the store's listeners; must not throw (it runs inside the watch's data handler). */
  emit(event: InformerWatchEvent<T>): void;
  report(event: InformerEvent): void;
}

/** Reconnect backoff: up to 500 ms, doubling to 30 s (full jitter), never sooner than a Retry-After. */
const WATCH_RETRY: Backoff = { baseMs: 500, maxMs: 30_000 };
/** A watch open at least this long proves the server healthy: the backoff starts over. */
const HEALTHY_WATCH_MS = 1_000;

/** Why the informer aborted its own watch request. */
class WatchInterrupted extends StewardError {
  override readonly name = "WatchInterrupted";
  constructor(
    readonly reason: InterruptReason,
    message: string,
  ) {
    super(message);
  }
}

interface Interruption {
  reason: InterruptReason;
  error?: unknown;
  retryAfterMs?: number;
  /** The watch had stayed open long enough to count as healthy. */
  healthy?: boolean;
}

/**
 * List + watch of one collection, as client-go's reflector does: list, remember the list's
 * resourceVersion, watch from it with bookmarks; a watch that ends is restarted from the last
 * version seen; 410 Gone relists and reports the difference against the cache. MODIFIED
 * events carry the cached previous object.
 *
 * A watch can also die without ending: a proxy or a NAT entry drops the connection
 * silently, or the server accepts it and never answers. The API server sends a bookmark
 * about every minute on a healthy watch, so a watch silent for longer than `watchdogMs` is
 * aborted and started again; every request also ends `watchdogMs` after its timeoutSeconds.
 * Failures are retried with capped, jittered exponential backoff (honouring Retry-After).
 * Every `resyncPeriodMs` the cache is re-delivered as SYNC events so level-triggered
 * consumers look at every object again, whatever they may have dropped.
 */
export class Informer<T extends Cacheable> {
  private readonly cache = new Map<string, T>();
  private readonly stopping = new AbortController();
  private resourceVersion = "";
  private resyncTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private lastReason: InterruptReason | undefined;
  /** When events stopped flowing (the first interruption other than a normal end). */
  private downSince: number | undefined;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly source: InformerSource<T>,
    private readonly options: InformerOptions<T>,
  ) {}

  /** Lists (rejecting when the server cannot be listed), then watches and resyncs until close(). */
  async start(): Promise<void> {
    await this.relist();
    if (this.closed) return;
    if (this.options.resyncPeriodMs > 0) {
      this.resyncTimer = setInterval(() => this.resync(), this.options.resyncPeriodMs);
      this.resyncTimer.unref();
    }
    void this.run();
  }

  close(): void {
    clearInterval(this.resyncTimer);
    this.stopping.abort();
  }

  private get closed(): boolean {
    return this.stopping.signal.aborted;
  }

  /** The watch loop; never rejects: every failure becomes an `interrupted` report and a retry. */
  private async run(): Promise<void> {
    let relist = false;
    while (!this.closed) {
      const interruption: Interruption | undefined = relist ? await this.tryRelist() : await this.watchOnce();
      if (this.closed) return;
      if (!interruption) {
        relist = false;
        continue;
      }
      relist = interruption.reason === "expired" || interruption.reason === "list-failed";
      const retryInMs = this.delayFor(interruption);
      if (interruption.reason !== "ended") this.downSince ??= Date.now();
      const error = interruption.error === undefined ? undefined : errorMessage(interruption.error);
      this.options.report({ type: "interrupted", reason: interruption.reason, retryInMs, ...(error ? { error } : {}) });
      await sleep(retryInMs, undefined, { signal: this.stopping.signal }).catch(() => undefined);
    }
  }

  private async tryRelist(): Promise<Interruption | undefined> {
    try {
      await this.relist();
      return undefined;
    } catch (err) {
      return { reason: "list-failed", error: err };
    }
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.source.list();
    const seen = new Set<string>();
    for (const raw of items) {
      const object = this.source.parse(raw);
      if (object) seen.add(this.upsert(object));
    }
    for (const [key, object] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.emit({ type: "DELETED", object });
      }
    }
    this.resourceVersion = resourceVersion;
    this.options.report({ type: "listed", count: this.cache.size, resourceVersion });
  }

  /** One watch request, from its start to its end, whatever ends it. */
  private async watchOnce(): Promise<Interruption> {
    const { watchdogMs } = this.options;
    const attempt = new AbortController();
    const timeoutSeconds = Math.round(jittered(this.options.watchTimeoutSeconds, 0.25));
    const silence = setTimeout(
      () => attempt.abort(new WatchInterrupted("watchdog", `no event or bookmark for ${watchdogMs} ms`)),
      watchdogMs,
    );
    const overdue = setTimeout(
      () =>
        attempt.abort(
          new WatchInterrupted("watchdog", `the server did not end the watch after its ${timeoutSeconds} s timeout`),
        ),
      timeoutSeconds * 1_000 + watchdogMs,
    );
    let openedAt: number | undefined;
    const isHealthy = (): boolean => openedAt !== undefined && Date.now() - openedAt >= HEALTHY_WATCH_MS;
    try {
      await watchStream(this.kubeConfig, {
        path: this.source.path,
        query: {
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: "true",
          timeoutSeconds: String(timeoutSeconds),
        },
        signal: AbortSignal.any([attempt.signal, this.stopping.signal]),
        onOpen: () => {
          openedAt = Date.now();
          silence.refresh();
          this.opened();
        },
        onLine: (line) => {
          silence.refresh();
          this.apply(line, attempt);
        },
      });
      return { reason: "ended", healthy: isHealthy() };
    } catch (err) {
      return { ...classify(err), healthy: isHealthy() };
    } finally {
      clearTimeout(silence);
      clearTimeout(overdue);
    }
  }

  private opened(): void {
    const downMs = this.downSince === undefined ? undefined : Date.now() - this.downSince;
    this.downSince = undefined;
    this.options.report({
      type: "watching",
      resourceVersion: this.resourceVersion,
      ...(downMs === undefined ? {} : { downMs }),
    });
  }

  /**
   * No wait after a normal end or a first expiry (relist at once); otherwise backoff. A
   * healthy watch resets it, so a server restart is retried quickly at first.
   */
  private delayFor(interruption: Interruption): number {
    const previous = this.lastReason;
    this.lastReason = interruption.reason;
    if (interruption.healthy) this.failures = 0;
    if (interruption.reason === "ended" && interruption.healthy) return 0;
    if (interruption.reason === "expired" && previous !== "expired") return 0;
    this.failures++;
    return backoffDelay(this.failures - 1, WATCH_RETRY, { retryAfterMs: interruption.retryAfterMs });
  }

  private apply(line: WatchLine, attempt: AbortController): void {
    if (line.type === "ERROR") {
      attempt.abort(errorEvent(line.object));
      return;
    }
    const version = (line.object as { metadata?: { resourceVersion?: unknown } } | undefined)?.metadata
      ?.resourceVersion;
    if (typeof version === "string" && version) this.resourceVersion = version;
    if (line.type === "BOOKMARK") return;
    const object = this.source.parse(line.object);
    if (!object) return;
    if (line.type === "DELETED") {
      this.cache.delete(keyOf(object));
      this.emit({ type: "DELETED", object });
    } else {
      this.upsert(object);
    }
  }

  private upsert(object: T): string {
    const key = keyOf(object);
    const previous = this.cache.get(key);
    this.cache.set(key, object);
    if (!previous) this.emit({ type: "ADDED", object });
    else if (previous.metadata.resourceVersion !== object.metadata.resourceVersion) {
      this.emit({ type: "MODIFIED", object, previous });
    }
    return key;
  }

  private resync(): void {
    const objects = [...this.cache.values()];
    for (const object of objects) this.emit({ type: "SYNC", object });
    this.options.report({ type: "resynced", count: objects.length });
  }

  private emit(event: InformerWatchEvent<T>): void {
    this.options.emit(event);
  }
}

function keyOf(object: Cacheable): string {
  return `${object.metadata.namespace}/${object.metadata.name}`;
}

/** An ERROR event carries a Status; 410 means the resourceVersion is too old to watch from. */
function errorEvent(object: unknown): WatchInterrupted {
  const status = object as { code?: number; message?: string } | undefined;
  const reason = status?.code === 410 ? "expired" : "failed";
  return new WatchInterrupted(reason, `ERROR event: ${status?.code ?? "?"} ${status?.message ?? ""}`.trim());
}

function classify(err: unknown): Interruption {
  if (err instanceof WatchInterrupted) return { reason: err.reason, error: err };
  if (err instanceof WatchStatusError) {
    return {
      reason: err.statusCode === 410 ? "expired" : "failed",
      error: err,
      ...(err.retryAfterMs ? { retryAfterMs: err.retryAfterMs } : {}),
    };
  }
  return { reason: "failed", error: err };
}
