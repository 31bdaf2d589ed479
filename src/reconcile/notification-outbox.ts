import type { NotificationEvent, NotificationRecord } from "../api/notifications.js";
import type { RemediationPhase, RemediationStatus } from "../api/remediation.js";

/**
 * The notification outbox's write side (ADR 0012). The status's one writer
 * (RemediationStatusWriter) passes every write through `withTransitionRecord`, and so does
 * the creation of a remediation (newRemediation): the record of a transition people must
 * hear of is part of the very write that makes the transition, durable exactly when the
 * transition is, never without it, never after it. The notifier (src/notify/) reads the
 * records and delivers them.
 */

/** Phases whose arrival is told, by the event that tells it. */
const EVENT_OF_PHASE: Partial<Record<RemediationPhase, NotificationEvent>> = {
  AwaitingApproval: "AwaitingApproval",
  Escalated: "Escalated",
  Failed: "Failed",
  Resolved: "Resolved",
};

/**
 * Records kept per remediation: beyond this the oldest are dropped (a remediation sees a
 * handful of transitions; this bounds a pathological one, whose oldest news is stale).
 */
export const MAX_NOTIFICATION_RECORDS = 50;

/** The event a status change is, if people are told of it; Opened is the remediation's creation. */
export function transitionEvent(
  before: RemediationStatus | undefined,
  after: RemediationStatus,
): NotificationEvent | undefined {
  if (before === undefined) return "Opened";
  const event = EVENT_OF_PHASE[after.phase];
  if (event === undefined) return undefined;
  if (before.phase !== after.phase) return event;
  // Still awaiting approval, but for other calls: the new ones must be seen too.
  if (
    after.phase === "AwaitingApproval" &&
    pendingIds(before) !== pendingIds(after) &&
    after.pendingApproval.length > 0
  )
    return event;
  return undefined;
}

/**
 * `after` with the outbox record of the transition from `before`, if it is one people are
 * told of (`before` undefined: the remediation is being created, "Opened"). Pure.
 */
export function withTransitionRecord(
  before: RemediationStatus | undefined,
  after: RemediationStatus,
  now: Date,
): RemediationStatus {
  const event = transitionEvent(before, after);
  if (event === undefined) return after;
  const records = after.notifications ?? before?.notifications ?? [];
  const record: NotificationRecord = {
    id: `${event}-${nextNumber(records)}`,
    event,
    at: now.toISOString(),
    ...(after.reason ? { reason: after.reason } : {}),
    ...(after.message ? { message: after.message } : {}),
    ...(event === "AwaitingApproval"
      ? { pending: after.pendingApproval.map((p) => ({ id: p.id, command: p.command.join(" ") })) }
      : {}),
  };
  return { ...after, notifications: bounded([...records, record]) };
}

function pendingIds(status: RemediationStatus): string {
  return status.pendingApproval
    .map((p) => p.id)
    .sort()
    .join(",");
}

/** One more than the highest record number so far: ids are never reused, also after old records are dropped. */
function nextNumber(records: readonly NotificationRecord[]): number {
  const numbers = records.map((r) => Number(/-(\d+)$/.exec(r.id)?.[1] ?? 0));
  return Math.max(0, ...numbers) + 1;
}

function bounded(records: NotificationRecord[]): NotificationRecord[] {
  return records.slice(-MAX_NOTIFICATION_RECORDS);
}
