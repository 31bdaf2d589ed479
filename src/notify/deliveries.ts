import type { Severity } from "../api/alerts.js";
import { sinkEvents, type NotificationPolicy, type NotificationSink } from "../api/notification-policy.js";
import type { DeliveryLedger, NotificationDelivery, NotificationRecord } from "../api/notifications.js";
import type { AgentRemediation } from "../api/remediation.js";
import { backoffDelay, type Backoff } from "../resilience/backoff.js";

/**
 * The outbox's delivery side, as pure functions over a remediation's records (its status)
 * and its delivery ledger (see DeliveryLedger): which sinks a record goes to, which
 * delivery is due, and what a send's outcome does to the ledger.
 */

/**
 * Backoff between attempts of one delivery: at least 1 s (a sink is never asked again at
 * once), up to 1 s doubling to 5 min (full jitter), and never sooner than the sink's
 * Retry-After (up to 5 min).
 */
export const DELIVERY_BACKOFF: Backoff = { baseMs: 1_000, maxMs: 300_000, minMs: 1_000 };

/** The result of one send. */
export type SendOutcome =
  | { type: "delivered" }
  /** Worth trying again: a network error, 408, 425, 429, 5xx; `retryAfterMs` from the sink. */
  | { type: "retry"; error: string; retryAfterMs?: number }
  /** Trying again cannot help (another 4xx, a redirect, a refused URL): dead-lettered at once. */
  | { type: "permanent"; error: string };

export interface SinkRef {
  policy: NotificationPolicy;
  sink: NotificationSink;
}

/** `<policy>/<sink>`, as the ledger names a sink. */
export function sinkId(ref: SinkRef): string {
  return `${ref.policy.metadata.name}/${ref.sink.name}`;
}

/** The sinks of the namespace's policies that want this record of this remediation. */
export function sinksFor(
  record: NotificationRecord,
  remediation: AgentRemediation,
  policies: readonly NotificationPolicy[],
): SinkRef[] {
  const severity: Severity = remediation.spec.severity ?? "warning";
  const desiredState = remediation.spec.desiredStateRef.name;
  return policies
    .filter((p) => p.metadata.namespace === remediation.metadata.namespace)
    .filter((p) => p.spec.desiredStates === undefined || p.spec.desiredStates.includes(desiredState))
    .flatMap((policy) => policy.spec.sinks.map((sink) => ({ policy, sink })))
    .filter(({ sink }) => sinkEvents(sink).includes(record.event))
    .filter(({ sink }) => sink.severities === undefined || sink.severities.includes(severity));
}

/**
 * The ledger with the sinks of every record that has none chosen yet (a Pending delivery
 * each; none when no sink wants it, which settles the record), and without the entries of
 * records the outbox no longer holds. Returns `ledger` itself when nothing changed. Pure.
 */
export function expand(
  records: readonly NotificationRecord[],
  ledger: DeliveryLedger,
  choose: (record: NotificationRecord) => readonly string[],
): DeliveryLedger {
  const ids = new Set(records.map((r) => r.id));
  const fresh = records.filter((r) => ledger[r.id] === undefined);
  const stale = Object.keys(ledger).filter((id) => !ids.has(id));
  if (fresh.length === 0 && stale.length === 0) return ledger;
  const next: DeliveryLedger = Object.fromEntries(Object.entries(ledger).filter(([id]) => ids.has(id)));
  for (const record of fresh) {
    next[record.id] = Object.fromEntries(choose(record).map((sink) => [sink, { state: "Pending", attempts: 0 }]));
  }
  return next;
}

export interface DueDelivery {
  record: NotificationRecord;
  sink: string;
  delivery: NotificationDelivery;
}

/**
 * The deliveries to send now: per sink, the oldest record still Pending for it (a sink
 * gets one remediation's events in order: never Resolved before Opened), if its next
 * attempt is due. Records must have their sinks chosen (expand).
 */
export function dueDeliveries(
  records: readonly NotificationRecord[],
  ledger: DeliveryLedger,
  now: Date,
): DueDelivery[] {
  const first = new Map<string, DueDelivery>();
  for (const record of records) {
    for (const [sink, delivery] of Object.entries(ledger[record.id] ?? {})) {
      if (delivery.state === "Pending" && !first.has(sink)) first.set(sink, { record, sink, delivery });
    }
  }
  return [...first.values()].filter(
    ({ delivery }) => delivery.nextAttemptAt === undefined || Date.parse(delivery.nextAttemptAt) <= now.getTime(),
  );
}

/** Milliseconds until the next Pending delivery is due (0: now); undefined when none is pending. */
export function nextDueInMs(ledger: DeliveryLedger, now: Date): number | undefined {
  const waits = Object.values(ledger).flatMap((sinks) =>
    Object.values(sinks)
      .filter((d) => d.state === "Pending")
      .map((d) => Math.max(0, (d.nextAttemptAt ? Date.parse(d.nextAttemptAt) : 0) - now.getTime())),
  );
  return waits.length === 0 ? undefined : Math.min(...waits);
}

/** Pending deliveries, and records whose sinks are still to be chosen. */
export function pendingCount(records: readonly NotificationRecord[], ledger: DeliveryLedger): number {
  return records.reduce((n, r) => {
    const sinks = ledger[r.id];
    return n + (sinks === undefined ? 1 : Object.values(sinks).filter((d) => d.state === "Pending").length);
  }, 0);
}

/**
 * The ledger after a send of record `recordId` to `sink`: Delivered; or one more attempt
 * with the next one after the backoff (or Retry-After); or DeadLettered after `maxAttempts`
 * or on a permanent failure. A delivery that is no longer Pending is left alone. Pure but
 * for `random`, the backoff's jitter.
 */
export function applyOutcome(
  ledger: DeliveryLedger,
  target: { recordId: string; sink: string; maxAttempts: number },
  outcome: SendOutcome,
  context: { now: Date; random?: () => number },
): DeliveryLedger {
  const before = ledger[target.recordId]?.[target.sink];
  if (before?.state !== "Pending") return ledger;
  return {
    ...ledger,
    [target.recordId]: {
      ...ledger[target.recordId],
      [target.sink]: settle(before, target.maxAttempts, outcome, context),
    },
  };
}

function settle(
  d: NotificationDelivery,
  maxAttempts: number,
  outcome: SendOutcome,
  context: { now: Date; random?: () => number },
): NotificationDelivery {
  const attempts = d.attempts + 1;
  if (outcome.type === "delivered") return { state: "Delivered", attempts, deliveredAt: context.now.toISOString() };
  if (outcome.type === "permanent" || attempts >= maxAttempts)
    return { state: "DeadLettered", attempts, lastError: outcome.error };
  const wait = backoffDelay(attempts - 1, DELIVERY_BACKOFF, {
    retryAfterMs: outcome.retryAfterMs,
    random: context.random,
  });
  return {
    state: "Pending",
    attempts,
    lastError: outcome.error,
    nextAttemptAt: new Date(context.now.getTime() + wait).toISOString(),
  };
}
