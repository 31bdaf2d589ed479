import { isDeepStrictEqual } from "node:util";
import { errorMessage } from "../errors.js";
import type { PrometheusClient, QueryOptions, QueryResult } from "./types.js";

/** One query an owner (a DesiredState key) wants evaluated, and how often. */
export interface RegisteredQuery {
  expr: string;
  intervalMs: number;
}

export interface QueryEvaluatorOptions {
  client: PrometheusClient;
  /** Called with the owners of a query whose result differs from its previous evaluation. Must not throw. */
  onChange(owners: readonly string[]): void;
  now?: () => number;
}

/** Slots start on whole seconds: at most interval/1 s timers per interval, however many queries. */
const SLOT_GRANULARITY_MS = 1_000;
/** No query is evaluated more often than this, whatever an interval says ("0s" included). */
const MIN_INTERVAL_MS = 1_000;
/**
 * A slot's result still counts as current this long past its interval: the next slot's
 * answer may take a moment (the client's timeout is 5 s, but Prometheus usually answers in
 * milliseconds), and a reader in between should not send a query of its own.
 */
const GRACE_MS = 2_000;

interface Entry {
  readonly expr: string;
  /** Owner → the interval it asked for; the query runs at the shortest. */
  readonly owners: Map<string, number>;
  slot: string | undefined;
  result: QueryResult | undefined;
  at: number;
  inFlight: Promise<QueryResult> | undefined;
}

interface Slot {
  readonly intervalMs: number;
  readonly offsetMs: number;
  readonly exprs: Set<string>;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Evaluates every distinct registered query once per interval, on a timer shared by all
 * the queries of a slot, and keeps the last result of each; it tells its owners only when
 * a result changed. As a Prometheus rule group does, and as the Docker observer's cache
 * does for containers: N invariants with one query cost one query per interval, and a
 * steady state costs no reconcile at all (ADR 0010).
 *
 * Reads (`query`) of a registered query return the last slot's result while it is current
 * (its interval plus a grace); otherwise, or with `fresh`, they query Prometheus now, at
 * most once at a time per query (concurrent readers share the request). An unregistered
 * query always goes to Prometheus. A slot is the interval and an offset within it taken
 * from a hash of the query, on whole seconds, so the load spreads over the interval
 * instead of arriving at once.
 *
 * Caveat: a shared request runs under the evaluator's own signal, not the reader's; the
 * client's timeout bounds it.
 */
export class QueryEvaluator implements PrometheusClient {
  private readonly entries = new Map<string, Entry>();
  private readonly owned = new Map<string, readonly RegisteredQuery[]>();
  private readonly slots = new Map<string, Slot>();
  private readonly stopping = new AbortController();
  private readonly now: () => number;

  constructor(private readonly options: QueryEvaluatorOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Sets the queries of `owner` (replacing what it registered before); an empty list unregisters it. */
  register(owner: string, queries: readonly RegisteredQuery[]): void {
    if (this.stopping.signal.aborted) return;
    const before = this.owned.get(owner) ?? [];
    if (isDeepStrictEqual(before, queries)) return;
    this.unregister(owner);
    if (queries.length === 0) return;
    this.owned.set(owner, [...queries]);
    for (const { expr, intervalMs } of queries) {
      const entry = this.entries.get(expr) ?? this.newEntry(expr);
      const interval = Math.max(MIN_INTERVAL_MS, intervalMs);
      entry.owners.set(owner, Math.min(interval, entry.owners.get(owner) ?? interval));
      this.schedule(entry);
    }
  }

  unregister(owner: string): void {
    for (const { expr } of this.owned.get(owner) ?? []) {
      const entry = this.entries.get(expr);
      if (!entry) continue;
      entry.owners.delete(owner);
      if (entry.owners.size > 0) this.schedule(entry);
      else {
        this.leaveSlot(entry);
        this.entries.delete(expr);
      }
    }
    this.owned.delete(owner);
  }

  query(expr: string, signal?: AbortSignal, options?: QueryOptions): Promise<QueryResult> {
    const entry = this.entries.get(expr);
    if (!entry) return this.options.client.query(expr, signal);
    const current = entry.result && this.now() - entry.at <= intervalOf(entry) + GRACE_MS;
    if (current && !options?.fresh && entry.result) return Promise.resolve(entry.result);
    return this.evaluate(entry);
  }

  /** Distinct queries registered, and the timers that run them: for tests and the bench. */
  get size(): { queries: number; slots: number } {
    return { queries: this.entries.size, slots: this.slots.size };
  }

  close(): void {
    this.stopping.abort();
    for (const slot of this.slots.values()) clearTimeout(slot.timer);
    this.slots.clear();
  }

  private newEntry(expr: string): Entry {
    const entry: Entry = { expr, owners: new Map(), slot: undefined, result: undefined, at: 0, inFlight: undefined };
    this.entries.set(expr, entry);
    return entry;
  }

  /** Puts the entry in the slot its (shortest) interval and its hash name. */
  private schedule(entry: Entry): void {
    const intervalMs = intervalOf(entry);
    const offsets = Math.max(1, Math.floor(intervalMs / SLOT_GRANULARITY_MS));
    const offsetMs = (hash(entry.expr) % offsets) * SLOT_GRANULARITY_MS;
    const key = `${intervalMs}@${offsetMs}`;
    if (entry.slot === key) return;
    this.leaveSlot(entry);
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { intervalMs, offsetMs, exprs: new Set(), timer: undefined };
      this.slots.set(key, slot);
      this.arm(slot);
    }
    slot.exprs.add(entry.expr);
    entry.slot = key;
  }

  private leaveSlot(entry: Entry): void {
    const slot = entry.slot === undefined ? undefined : this.slots.get(entry.slot);
    entry.slot = undefined;
    if (!slot) return;
    slot.exprs.delete(entry.expr);
    if (slot.exprs.size > 0) return;
    clearTimeout(slot.timer);
    this.slots.delete(`${slot.intervalMs}@${slot.offsetMs}`);
  }

  /** The slot's next tick, on the wall clock (t ≡ offset mod interval), so ticks do not drift. */
  private arm(slot: Slot): void {
    const now = this.now();
    const delay = (((slot.offsetMs - (now % slot.intervalMs)) % slot.intervalMs) + slot.intervalMs) % slot.intervalMs;
    slot.timer = setTimeout(() => this.tick(slot), delay === 0 ? slot.intervalMs : delay);
    slot.timer.unref();
  }

  private tick(slot: Slot): void {
    if (this.stopping.signal.aborted || !this.slots.has(`${slot.intervalMs}@${slot.offsetMs}`)) return;
    for (const expr of slot.exprs) {
      const entry = this.entries.get(expr);
      if (entry) void this.evaluate(entry);
    }
    this.arm(slot);
  }

  /** One request per query at a time; the owners hear of a result that differs from the last one. */
  private evaluate(entry: Entry): Promise<QueryResult> {
    entry.inFlight ??= this.options.client
      .query(entry.expr, this.stopping.signal)
      .catch((err: unknown): QueryResult => ({ ok: false, error: errorMessage(err) }))
      .then((result) => {
        entry.inFlight = undefined;
        const changed = entry.result !== undefined && !isDeepStrictEqual(entry.result, result);
        entry.result = result;
        entry.at = this.now();
        if (changed && this.entries.get(entry.expr) === entry) this.options.onChange([...entry.owners.keys()]);
        return result;
      });
    return entry.inFlight;
  }
}

function intervalOf(entry: Entry): number {
  return Math.min(...entry.owners.values());
}

/** FNV-1a: a stable, cheap spread of queries over the offsets of an interval. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
