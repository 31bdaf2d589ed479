import { Watch, type KubeConfig } from "@kubernetes/client-node";
import type { Resource } from "../../api/resources.js";
import type { WatchEvent } from "../store.js";

export interface ListResult {
  items: unknown[];
  resourceVersion: string;
}

export interface InformerSource {
  /** The collection's API path, e.g. `/apis/steward.dev/v1alpha1/namespaces/default/desiredstates`. */
  path: string;
  list(): Promise<ListResult>;
  /** Validates one object from the server; undefined when it is not a valid Steward object. */
  parse(raw: unknown): Resource | undefined;
}

/** How long the server keeps one watch open before it ends it and we start the next. */
const WATCH_TIMEOUT_SECONDS = 240;
const RETRY_MS = 1_000;

/**
 * List + watch of one collection, as client-go's reflector does: list, remember the list's
 * resourceVersion, watch from it; a watch that ends is restarted from the last version seen;
 * 410 Gone (the version was compacted away) relists and reports the difference against the
 * cache. MODIFIED events carry the cached previous object.
 */
export class Informer {
  private readonly cache = new Map<string, Resource>();
  private resourceVersion = "";
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly source: InformerSource,
    private readonly emit: (event: WatchEvent) => void,
  ) {}

  async start(): Promise<void> {
    await this.relist();
    this.watch();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.controller?.abort();
    this.controller = undefined;
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
  }

  private upsert(object: Resource): string {
    const key = `${object.metadata.namespace}/${object.metadata.name}`;
    const previous = this.cache.get(key);
    this.cache.set(key, object);
    if (!previous) this.emit({ type: "ADDED", object });
    else if (previous.metadata.resourceVersion !== object.metadata.resourceVersion) {
      this.emit({ type: "MODIFIED", object, previous });
    }
    return key;
  }

  private watch(): void {
    if (this.closed) return;
    let gone = false;
    const onEvent = (phase: string, raw: unknown): void => {
      if (phase === "ERROR") {
        gone = (raw as { code?: number } | undefined)?.code === 410;
        this.controller?.abort();
        return;
      }
      const version = (raw as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion;
      if (version) this.resourceVersion = version;
      if (phase === "BOOKMARK") return;
      const object = this.source.parse(raw);
      if (!object) return;
      if (phase === "DELETED") {
        this.cache.delete(`${object.metadata.namespace}/${object.metadata.name}`);
        this.emit({ type: "DELETED", object });
      } else {
        this.upsert(object);
      }
    };
    const onDone = (err: unknown): void => {
      this.controller = undefined;
      if (this.closed) return;
      if ((err as { statusCode?: number } | null)?.statusCode === 410) gone = true;
      this.schedule(gone ? "relist" : "watch", err || gone ? RETRY_MS : 0);
    };
    const query = { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: WATCH_TIMEOUT_SECONDS };
    new Watch(this.kubeConfig).watch(this.source.path, query, onEvent, onDone).then(
      (controller) => {
        if (this.closed) controller.abort();
        else this.controller = controller;
      },
      onDone,
    );
  }

  private schedule(next: "relist" | "watch", delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.closed) return;
      if (next === "watch") return this.watch();
      this.relist().then(
        () => this.watch(),
        () => this.schedule("relist", RETRY_MS),
      );
    }, delayMs);
  }
}
