import type { Severity } from "../api/alerts.js";
import { sinkEvents, type NotificationPolicy, type NotificationSink } from "../api/notification-policy.js";
import type { NotificationDelivery, NotificationRecord } from "../api/notifications.js";
import type { AgentRemediation, RemediationStatus } from "../api/remediation.js";
import { backoffDelay } from "../resilience/backoff.js";

/**
 * The outbox's delivery side, as pure functions over a remediation's status: which sinks a
 * record goes to, which delivery is due, and what a send's outcome does to the record.
 */

/** Backoff between attempts of one delivery: 1 s doubling to 5 min, ±20 %, or the sink's Retry-After if longer. */
export const DELIVERY_BACKOFF = { initialMs: 1_000, maxMs: 300_000 };

/** The result of one send. */
export type SendOutcome =
  | { type: "delivered" }
  /** Worth trying again: a network error, 408, 429, 5xx; `retryAfterMs` from the sink. */
  | { type: "retry"; error: string; retryAfterMs?: number }
  /** Trying again cannot help (another 4xx, a redirect, a missing secret): dead-lettered at once. */
  | { type: "permanent"; error: string };

export interface SinkRef {
  policy: NotificationPolicy;
  sink: NotificationSink;
}

/** `<policy>/<sink>`, as deliveries name their sink. */
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
 * Chooses the sinks of every record that has none chosen yet: a Pending delivery per sink
 * (an empty list when no sink wants it, which settles the record). Pure.
 */
export function expand(
  status: RemediationStatus,
  remediation: AgentRemediation,
  policies: readonly NotificationPolicy[],
): RemediationStatus {
  const records = status.notifications ?? [];
  if (records.every((r) => r.deliveries !== undefined)) return status;
  return {
    ...status,
    notifications: records.map((record) =>
      record.deliveries !== undefined
        ? record
        : {
            ...record,
            deliveries: sinksFor(record, remediation, policies).map((ref) => ({
              sink: sinkId(ref),
              state: "Pending" as const,
              attempts: 0,
            })),
          },
    ),
  };
}

export interface DueDelivery {
  record: NotificationRecord;
  delivery: NotificationDelivery;
}

/**
 * The deliveries to send now: per sink, the oldest record still Pending for it (a sink
 * gets one remediation's events in order: never Resolved before Opened), if its next
 * attempt is due. Records must be expanded.
 */
export function dueDeliveries(status: RemediationStatus, now: Date): DueDelivery[] {
  const first = new Map<string, DueDelivery>();
  for (const record of status.notifications ?? []) {
    for (const delivery of record.deliveries ?? []) {
      if (delivery.state === "Pending" && !first.has(delivery.sink)) first.set(delivery.sink, { record, delivery });
    }
  }
  return [...first.values()].filter(
    ({ delivery }) => delivery.nextAttemptAt === undefined || Date.parse(delivery.nextAttemptAt) <= now.getTime(),
  );
}

/** Milliseconds until the next Pending delivery is due (0: now); undefined when none is pending. */
export function nextDueInMs(status: RemediationStatus, now: Date): number | undefined {
  const waits = (status.notifications ?? []).flatMap((r) =>
    (r.deliveries ?? [])
      .filter((d) => d.state === "Pending")
      .map((d) => Math.max(0, (d.nextAttemptAt ? Date.parse(d.nextAttemptAt) : 0) - now.getTime())),
  );
  return waits.length === 0 ? undefined : Math.min(...waits);
}

/** Pending deliveries, and records whose sinks are still to be chosen. */
export function pendingCount(status: RemediationStatus | undefined): number {
  return (status?.notifications ?? []).reduce(
    (n, r) => n + (r.deliveries === undefined ? 1 : r.deliveries.filter((d) => d.state === "Pending").length),
    0,
  );
}

/**
 * The record `recordId`'s delivery to `sink` after a send: Delivered; or one more attempt
 * with the next one after the backoff (or Retry-After); or DeadLettered after `maxAttempts`
 * or on a permanent failure. A delivery that is no longer Pending is left alone (it was
 * settled meanwhile). Pure but for `random`, the backoff's jitter.
 */
export function applyOutcome(
  status: RemediationStatus,
  target: { recordId: string; sink: string; maxAttempts: number },
  outcome: SendOutcome,
  context: { now: Date; random?: () => number },
): RemediationStatus {
  const settle = (d: NotificationDelivery): NotificationDelivery => {
    if (d.sink !== target.sink || d.state !== "Pending") return d;
    const attempts = d.attempts + 1;
    const now = context.now.toISOString();
    if (outcome.type === "delivered") return { sink: d.sink, state: "Delivered", attempts, deliveredAt: now };
    if (outcome.type === "permanent" || attempts >= target.maxAttempts)
      return { sink: d.sink, state: "DeadLettered", attempts, lastError: outcome.error };
    const backoff = backoffDelay(attempts - 1, DELIVERY_BACKOFF, context.random);
    const wait = Math.max(backoff, outcome.retryAfterMs ?? 0);
    return {
      ...d,
      attempts,
      lastError: outcome.error,
      nextAttemptAt: new Date(context.now.getTime() + wait).toISOString(),
    };
  };
  return {
    ...status,
    notifications: (status.notifications ?? []).map((r) =>
      r.id === target.recordId && r.deliveries ? { ...r, deliveries: r.deliveries.map(settle) } : r,
    ),
  };
}
