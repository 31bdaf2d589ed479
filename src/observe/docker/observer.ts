/**
 * Follows Docker's events stream and keeps a cache of every container's snapshot.
 *
 * Invariants:
 * - The events stream is opened before the full list, so no change falls between them;
 *   events that arrive during the list are re-inspected once it is in the cache.
 * - After every reconnect the cache is rebuilt from a full list: the daemon keeps only
 *   256 events, so `since` alone can miss changes made while we were away.
 * - A snapshot comes from `inspect` after the event, never from the event itself, so the
 *   cache holds what the daemon reports now, whatever order events arrive in.
 * - Nothing is thrown outward after start(); trouble is reported as `connection` events.
 */
import { setMaxListeners } from "node:events";
import type Dockerode from "dockerode";
import { StewardError, errorMessage, wrapError } from "../../errors.js";
import type { ConnectionState, ContainerSnapshot, DockerObserver, DockerObserverEvent } from "../types.js";
import { CoalescingRunner } from "./coalesce.js";
import {
  MAX_EVENT_LINE_BYTES,
  STATE_EVENT_FILTER,
  affectsState,
  parseDockerEvent,
  type SplitResult,
} from "./event-lines.js";
import { followEventStream, type EventStream } from "./event-stream.js";
import { diffSnapshots, sameSnapshot, toContainerSnapshot } from "./snapshot.js";
import { backoffDelay, type Backoff } from "../../resilience/backoff.js";
import { sleep, withDeadline } from "../../resilience/deadline.js";
import { mapBounded } from "../../resilience/limiter.js";
import { DOCKER_CALL_TIMEOUT_MS, statusCodeOf } from "./client.js";

/** The subset of winston's logger the observer uses. */
export interface ObserverLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
}

export interface DockerEventObserverOptions {
  docker: Dockerode;
  logger: ObserverLogger;
  backoff?: Backoff;
  /** Deadline of each Docker API call (list, inspect, opening the stream). */
  callTimeoutMs?: number;
}

/** Inspects in flight during a full list; the daemon serialises much beyond this anyway. */
export const INSPECT_CONCURRENCY = 8;
/**
 * Reconnect delays: up to 250 ms, doubling to 5 s. The daemon is local, so retrying is
 * cheap, and a restarted daemon (a few seconds) should be seen again within about one cap.
 */
export const RECONNECT_BACKOFF: Backoff = { baseMs: 250, maxMs: 5_000 };
/** A link that stayed up this long resets the backoff, so a flapping daemon keeps backing off. */
export const STABLE_LINK_MS = 10_000;

/** One events stream and everything done on its behalf; aborted when the stream is lost. */
interface Link {
  controller: AbortController;
  /** Resolves (never rejects) with the reason once the link is lost. */
  lost: Promise<unknown>;
  establishedAt: number;
}

export class DockerEventObserver implements DockerObserver {
  private readonly docker: Dockerode;
  private readonly logger: ObserverLogger;
  private readonly backoff: Backoff;
  private readonly callTimeoutMs: number;
  private phase: "new" | "running" | "closed" = "new";
  private readonly closing = new AbortController();
  private cache = new Map<string, ContainerSnapshot>();
  /** `containers()` of the cache as it is; dropped on every change. */
  private listed: readonly ContainerSnapshot[] | undefined;
  private everSynced = false;
  private conn: ConnectionState = { state: "connecting", since: new Date().toISOString() };
  private link: Link | undefined;
  private loop: Promise<void> | undefined;
  private readonly listeners = new Set<(event: DockerObserverEvent) => void>();
  /** Re-inspects after events: one inspect per container at a time. */
  private readonly refresher: CoalescingRunner;
  /** Set during a full list: ids seen in events then, re-inspected once the list is cached. */
  private dirty: Set<string> | undefined;
  private lastEventNs: number | undefined;

  constructor(options: DockerEventObserverOptions) {
    this.docker = options.docker;
    this.logger = options.logger;
    this.backoff = options.backoff ?? RECONNECT_BACKOFF;
    this.callTimeoutMs = options.callTimeoutMs ?? DOCKER_CALL_TIMEOUT_MS;
    this.refresher = new CoalescingRunner(
      (id, scope) => this.refreshOne(id, scope),
      (id, err) => this.logger.warn("docker observer: re-inspect failed", { id, error: errorMessage(err) }),
    );
  }

  async start(): Promise<void> {
    if (this.phase !== "new")
      throw new StewardError("docker observer: start() may be called only once, and not after close()");
    this.phase = "running";
    let first: Link;
    try {
      first = await this.establish();
    } catch (err) {
      const closedMeanwhile = this.closing.signal.aborted;
      await this.close();
      if (closedMeanwhile) throw wrapError("docker observer: closed before start() finished", err);
      throw new StewardError(
        `cannot reach the Docker daemon at ${this.endpoint()}: ${errorMessage(err)}; ` +
          "start it with: dockerd --bridge=none --iptables=false (as root), or `bash scripts/engines.sh up`",
        { cause: err },
      );
    }
    this.loop = this.follow(first).catch((err: unknown) => {
      this.logger.warn("docker observer: reconnect loop failed; observations are stale", { error: errorMessage(err) });
    });
  }

  async close(): Promise<void> {
    if (this.phase === "closed") return;
    this.phase = "closed";
    this.closing.abort(new StewardError("docker observer closed"));
    await this.loop;
    await this.refresher.idle();
    this.listeners.clear();
  }

  subscribe(listener: (event: DockerObserverEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The same array until the cache changes, so callers may memoize what they derive from it. */
  containers(): readonly ContainerSnapshot[] {
    this.listed ??= [...this.cache.values()];
    return this.listed;
  }

  synced(): boolean {
    return this.everSynced;
  }

  connection(): ConnectionState {
    return this.conn;
  }

  /** Waits for the link to drop, backs off, re-establishes; until close(). */
  private async follow(first: Link): Promise<void> {
    let link: Link | undefined = first;
    let failures = 0;
    let reason: unknown;
    while (this.phase === "running") {
      if (link) {
        reason = await link.lost;
        if (Date.now() - link.establishedAt >= STABLE_LINK_MS) failures = 0;
        link = undefined;
      }
      if (this.phase !== "running") return;
      const retryInMs = backoffDelay(failures++, this.backoff);
      this.setConnection({ state: "disconnected", since: now(), error: errorMessage(reason), retryInMs });
      await sleep(retryInMs, this.closing.signal);
      if (this.phase !== "running") return;
      try {
        link = await this.establish();
      } catch (err) {
        reason = err;
      }
    }
  }

  /** Opens the stream, then lists everything; the link is usable once this resolves. */
  private async establish(): Promise<Link> {
    const controller = new AbortController();
    // Every call of the link (one per container during a full list) listens on this
    // signal and removes itself when done; the default cap of 10 would warn spuriously.
    setMaxListeners(0, controller.signal);
    const onClose = (): void => controller.abort(this.closing.signal.reason);
    this.closing.signal.addEventListener("abort", onClose, { once: true });
    controller.signal.addEventListener("abort", () => this.closing.signal.removeEventListener("abort", onClose));
    this.setConnection({ state: "connecting", since: now() });
    try {
      const stream = await this.openEvents(controller.signal);
      const lost = followEventStream(stream, controller, (lines) => this.onLines(lines));
      const link: Link = { controller, lost, establishedAt: Date.now() };
      this.link = link;
      await this.resync(controller.signal);
      this.setConnection({ state: "connected", since: now() });
      return link;
    } catch (err) {
      controller.abort(err);
      throw err;
    }
  }

  private async openEvents(linkSignal: AbortSignal): Promise<EventStream> {
    const since = this.lastEventNs === undefined ? undefined : Math.floor(this.lastEventNs / 1e9);
    // The link's signal, not the deadline's, goes to dockerode: it stays attached to the
    // open stream, and the stream must outlive the deadline. A timeout aborts the link.
    const options = {
      filters: { type: ["container" as const], event: [...STATE_EVENT_FILTER] },
      abortSignal: linkSignal,
      ...(since ? { since } : {}),
    };
    return withDeadline(
      "open the docker events stream",
      this.callTimeoutMs,
      () => this.docker.getEvents(options) as Promise<EventStream>,
      linkSignal,
    );
  }

  /** Replaces the cache with a full list; emits what changed, then `resynced`. */
  private async resync(signal: AbortSignal): Promise<void> {
    const dirty = new Set<string>();
    this.dirty = dirty;
    try {
      const listed = await withDeadline(
        "list containers",
        this.callTimeoutMs,
        (s) => this.docker.listContainers({ all: true, abortSignal: s }),
        signal,
      );
      // A container removed between list and inspect is a 404: it is simply not there.
      const inspected = await mapBounded(listed, INSPECT_CONCURRENCY, (c) => this.inspect(c.Id, signal));
      if (signal.aborted) throw wrapError("list containers", signal.reason);
      const fresh = new Map(inspected.flatMap((s) => (s ? [[s.id, s] as const] : [])));
      const previous = this.cache;
      this.cache = fresh;
      this.listed = undefined;
      this.everSynced = true;
      for (const change of diffSnapshots(previous, fresh)) this.emit({ type: "container", ...change });
      this.emit({ type: "resynced", count: fresh.size });
    } finally {
      this.dirty = undefined;
    }
    for (const id of dirty) this.refresh(id);
  }

  private async inspect(id: string, signal: AbortSignal): Promise<ContainerSnapshot | undefined> {
    try {
      const info = await withDeadline(
        `inspect container ${id.slice(0, 12)}`,
        this.callTimeoutMs,
        (s) => this.docker.getContainer(id).inspect({ abortSignal: s }),
        signal,
      );
      return toContainerSnapshot(info);
    } catch (err) {
      if (statusCodeOf(err) === 404) return undefined;
      throw err;
    }
  }

  private onLines(result: SplitResult): void {
    for (const line of result.overlong) {
      const error = `line of ${line.bytes} bytes exceeds the ${MAX_EVENT_LINE_BYTES}-byte limit`;
      this.logger.warn("docker observer: dropped an events-stream line", { error });
      this.emit({ type: "malformed", line: line.preview, error });
    }
    for (const line of result.lines) {
      const parsed = parseDockerEvent(line);
      if (parsed.kind === "malformed") {
        this.logger.warn("docker observer: dropped an events-stream line", { error: parsed.error });
        this.emit({ type: "malformed", line, error: parsed.error });
      } else if (parsed.kind === "container") {
        const { id, action, time } = parsed.event;
        this.lastEventNs = Math.max(this.lastEventNs ?? 0, time);
        if (!affectsState(action)) continue;
        this.logger.debug("docker observer: event", { id, action });
        this.refresh(id);
      }
    }
  }

  /** Events during a full list wait for it: the list would overwrite what they read. */
  private refresh(id: string): void {
    if (this.dirty) {
      this.dirty.add(id);
      return;
    }
    const link = this.link;
    if (link && !link.controller.signal.aborted) this.refresher.request(id, link.controller.signal);
  }

  private async refreshOne(id: string, scope: AbortSignal): Promise<void> {
    let snapshot: ContainerSnapshot | undefined;
    try {
      snapshot = await this.inspect(id, scope);
    } catch (err) {
      if (scope.aborted) return;
      // The entry is now unknown; dropping the link forces a full list, the one path
      // that repairs any entry.
      this.logger.warn("docker observer: re-inspect failed; re-listing", { id, error: errorMessage(err) });
      if (this.link?.controller.signal === scope)
        this.link.controller.abort(wrapError("re-inspect after an event", err));
      return;
    }
    // A lost link means a newer full list supersedes this read.
    if (!scope.aborted) this.apply(id, snapshot);
  }

  private apply(id: string, snapshot: ContainerSnapshot | undefined): void {
    const previous = this.cache.get(id);
    if (snapshot) this.cache.set(id, snapshot);
    else this.cache.delete(id);
    this.listed = undefined;
    if (!sameSnapshot(previous, snapshot)) this.emit({ type: "container", id, snapshot, previous });
  }

  private setConnection(connection: ConnectionState): void {
    this.conn = connection;
    const level = connection.state === "disconnected" ? "warn" : "info";
    this.logger[level](`docker observer: ${connection.state}`, { ...connection });
    this.emit({ type: "connection", connection });
  }

  private emit(event: DockerObserverEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.logger.warn("docker observer: a listener threw; ignored", { event: event.type, error: errorMessage(err) });
      }
    }
  }

  /** Where the daemon is, for error messages only. */
  private endpoint(): string {
    const modem = this.docker.modem as { socketPath?: unknown; host?: unknown; port?: unknown };
    if (typeof modem.socketPath === "string") return modem.socketPath;
    if (typeof modem.host === "string") return `http://${modem.host}:${String(modem.port)}`;
    return "/var/run/docker.sock";
  }
}

function now(): string {
  return new Date().toISOString();
}
