/**
 * Simple fixes record their intent before they act: the reconcile writes each planned fix
 * to `status.fixes` as `Started` (one store write, fsynced, before any of them runs), then
 * acts, then writes the outcome over it. A reconcile never sees its own `Started` records
 * (one key is never reconciled twice at once, and one process acts), so a `Started` it
 * reads was left by a Steward that stopped between acting and recording: it becomes
 * `Interrupted`. It still counts against the restart budget — a crash neither hides a fix
 * nor counts it twice.
 *
 * Re-acting after such a crash is left to level-triggering where that is safe: a `start`
 * (or `scale`) is only planned while the drift is still there, and a repeated start of a
 * running container is a no-op. A `restart` is not a no-op, and a restart Docker is still
 * carrying out (stopping the container with its grace period) looks like the same
 * unhealthy container; so while an interrupted restart may still be under way, the
 * container is left alone (`restartMayBeInFlight`).
 */
import type { FixRecord } from "../api/desired-state.js";
import type { ContainerSnapshot } from "../observe/types.js";

/**
 * How long an interrupted restart may still be under way in Docker: the default stop grace
 * period (10 s), the call's own deadline (10 s), and margin for a slow start.
 */
export const RESTART_SETTLE_MS = 60_000;

const INTERRUPTED_MESSAGE =
  "the outcome of this fix was never recorded (Steward stopped, or the status write failed): it may or may not have run";

/** `Started` records read back from the status become `Interrupted`. Pure. */
export function settleInterruptedFixes(fixes: readonly FixRecord[]): FixRecord[] {
  if (!fixes.some((f) => f.result === "Started")) return [...fixes];
  return fixes.map((f) => (f.result === "Started" ? { ...f, result: "Interrupted", message: INTERRUPTED_MESSAGE } : f));
}

/** The intent record of a fix about to run; its outcome later replaces it (same subject, action and time). Pure. */
export function intentRecord(fix: { subject: string; action: FixRecord["action"] }, now: Date): FixRecord {
  return {
    subject: fix.subject,
    action: fix.action,
    time: now.toISOString(),
    result: "Started",
    message: "recorded before acting",
  };
}

/**
 * Whether a restart of this container that a stopped Steward began may still be under way:
 * an interrupted restart less than RESTART_SETTLE_MS old, and the container not started
 * since (a container Docker has restarted since is judged afresh). Pure.
 */
export function restartMayBeInFlight(
  fixes: readonly FixRecord[],
  subject: string,
  container: Pick<ContainerSnapshot, "startedAt"> | undefined,
  now: Date,
): boolean {
  const startedAt = Date.parse(container?.startedAt ?? "");
  return fixes.some((f) => {
    if (f.subject !== subject || f.action !== "restart" || (f.result !== "Interrupted" && f.result !== "Started"))
      return false;
    const at = Date.parse(f.time);
    if (now.getTime() - at >= RESTART_SETTLE_MS) return false;
    return Number.isNaN(startedAt) || startedAt <= at;
  });
}
