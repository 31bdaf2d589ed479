import { V1MicroTime, type V1Lease, type V1LeaseSpec } from "@kubernetes/client-node";

/**
 * The timing of leader election, in one place (client-go's defaults for a 15 s lease).
 * Ordering matters: callTimeout < renewDeadline < leaseDuration.
 * - A leader that has not renewed for `renewDeadlineMs` stops acting. The others take over
 *   only once `leaseDurationMs` has passed since the last renewal, so the 5 s between the
 *   two absorb clock skew between replicas and the time it takes to stop.
 * - Every API call times out after `callTimeoutMs` (and never later than the renew
 *   deadline), so one hung call cannot outlive the deadline.
 */
export interface LeaseTiming {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  /** How often the leader renews, and (jittered) how often a standby tries to acquire. */
  retryPeriodMs: number;
  callTimeoutMs: number;
}

export const LEASE_TIMING: LeaseTiming = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
  callTimeoutMs: 4_000,
};

/** What leader election reads from and writes to a Lease's spec. */
export interface LeaseRecord {
  /** Empty or unset: nobody holds the lease (it was released). */
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: Date;
  renewTime?: Date;
  leaseTransitions?: number;
}

/**
 * - `create`: there is no Lease object yet;
 * - `acquire`: nobody holds it, or its holder let it expire;
 * - `renew`: we hold it;
 * - `wait`: someone else holds a live lease until `expiresAt`.
 */
export type LeaseDecision =
  | { type: "create" }
  | { type: "acquire"; previousHolder: string | undefined }
  | { type: "renew" }
  | { type: "wait"; holder: string; expiresAt: Date };

/**
 * What a candidate does with the Lease it just read. Pure. A lease is expired when
 * renewTime + leaseDurationSeconds < now, by this replica's clock: that assumes the
 * replicas' clocks agree to well within renewDeadline − leaseDuration (5 s), the margin
 * by which a leader that cannot renew stops before anyone may take over.
 */
export function leaseDecision(
  lease: LeaseRecord | undefined,
  now: Date,
  identity: string,
  defaultDurationMs = LEASE_TIMING.leaseDurationMs,
): LeaseDecision {
  if (lease === undefined) return { type: "create" };
  const holder = lease.holderIdentity ?? "";
  if (holder === identity) return { type: "renew" };
  if (holder === "") return { type: "acquire", previousHolder: undefined };
  const expiresAt = leaseExpiry(lease, defaultDurationMs);
  if (expiresAt.getTime() < now.getTime()) return { type: "acquire", previousHolder: holder };
  return { type: "wait", holder, expiresAt };
}

/** When a held lease runs out unless renewed. A holder without a renewTime never renewed: as if at the epoch (expired). */
function leaseExpiry(lease: LeaseRecord, defaultDurationMs: number): Date {
  const durationMs = lease.leaseDurationSeconds !== undefined ? lease.leaseDurationSeconds * 1_000 : defaultDurationMs;
  const renewedMs = (lease.renewTime ?? lease.acquireTime)?.getTime() ?? 0;
  return new Date(renewedMs + durationMs);
}

/**
 * The record to write for a `create`, `acquire` or `renew` decision. Pure. Taking over
 * from anyone else (or from nobody, after a release) counts as a transition.
 */
export function nextLease(
  decision: Exclude<LeaseDecision, { type: "wait" }>,
  lease: LeaseRecord | undefined,
  input: { now: Date; identity: string; durationMs: number },
): LeaseRecord {
  const leaseDurationSeconds = Math.ceil(input.durationMs / 1_000);
  if (decision.type === "renew")
    return { ...lease, holderIdentity: input.identity, leaseDurationSeconds, renewTime: input.now };
  return {
    holderIdentity: input.identity,
    leaseDurationSeconds,
    acquireTime: input.now,
    renewTime: input.now,
    leaseTransitions: decision.type === "create" ? 0 : (lease?.leaseTransitions ?? 0) + 1,
  };
}

/**
 * The record a leader writes when it steps down (SIGTERM): no holder, so a standby
 * acquires at its next retry instead of waiting for the lease to expire. Pure.
 */
export function releasedLease(lease: LeaseRecord, now: Date): LeaseRecord {
  return {
    leaseDurationSeconds: lease.leaseDurationSeconds,
    acquireTime: lease.acquireTime,
    renewTime: now,
    leaseTransitions: lease.leaseTransitions,
  };
}

/** The client returns MicroTime fields as strings (typed as Date); accept both. */
function time(value: unknown): Date | undefined {
  if (value instanceof Date) return value;
  if (typeof value !== "string" || value === "") return undefined;
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? undefined : parsed;
}

export function leaseRecordOf(lease: V1Lease): LeaseRecord {
  const spec = lease.spec ?? {};
  return {
    holderIdentity: spec.holderIdentity || undefined,
    leaseDurationSeconds: spec.leaseDurationSeconds,
    acquireTime: time(spec.acquireTime),
    renewTime: time(spec.renewTime),
    leaseTransitions: spec.leaseTransitions,
  };
}

/** MicroTime must be sent with six fractional digits; the API server rejects a plain Date's three. */
export function leaseSpecOf(record: LeaseRecord): V1LeaseSpec {
  const micro = (date: Date | undefined): V1MicroTime | undefined =>
    date ? new V1MicroTime(date.getTime()) : undefined;
  return {
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: micro(record.acquireTime),
    renewTime: micro(record.renewTime),
    leaseTransitions: record.leaseTransitions,
  };
}
