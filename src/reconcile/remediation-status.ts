/**
 * The one writer of `AgentRemediation.status` (ADR 0008).
 *
 * The remediation controller owns the status, as one controller owns a status in
 * controller-runtime. Everything that changes it — the controller's own waiting reasons,
 * the close of a remediation whose drift cleared or whose DesiredState is gone, and every
 * step of the agent session the controller runs — is a `RemediationStatusChange`, applied
 * by the pure `applyStatusChange` and written by a `RemediationStatusWriter`, the only
 * code that calls `store.updateStatus("AgentRemediation", …)`. The session never touches
 * the store: it hands its changes to the writer through `SessionRunContext.status`.
 *
 * The one other status write is the remediation's birth: the DesiredState controller
 * creates it with its opening status (`newRemediation`, one `store.create`). The owner
 * leaves an object alone until that status has arrived (`openedAt`), and the creator never
 * writes the status again: it asks for nothing; the owner sees for itself when the drift
 * clears or the DesiredState is deleted.
 */
import { isDeepStrictEqual } from "node:util";
import type {
  ActionRecord,
  AgentRemediation,
  AuditHead,
  PendingApproval,
  RemediationPhase,
  RemediationStatus,
  Usage,
} from "../api/remediation.js";
import type { EventRecorder, StewardEvent } from "../store/events.js";
import type { Store } from "../store/store.js";
import { emptyRemediationStatus } from "./remediations.js";
import { withRemediationConditions } from "./remediation-conditions.js";
import { withTransitionRecord } from "./notification-outbox.js";
import type { SessionOutcome } from "./session-runner.js";

/** What a session ends as, once it no longer waits for a person. */
export type SessionEnd = Exclude<SessionOutcome, { type: "awaitingApproval" }>;

/** Every change the status of a remediation can undergo; `applyStatusChange` says what each one does. */
export type RemediationStatusChange =
  /** A new conversation: attempt 1 begins, investigating. */
  | { type: "sessionStarted"; sessionId: string; message: string; at: string }
  /** The conversation continues on this replica under a new id; a call awaiting approval stays pending. */
  | { type: "sessionHandedOver"; sessionId: string; message: string; keepsPendingCall: boolean }
  /** The session moves to Investigating, Verifying or back; a no-op in the phase it is in. */
  | { type: "phase"; phase: RemediationPhase; message: string }
  /** The session's token usage and cost so far. */
  | { type: "usage"; usage: Usage }
  /** The idempotency record of a change, written before it runs (ADR 0005): Remediating. */
  | { type: "actionStarted"; action: ActionRecord; message: string }
  /** A change's outcome, or a denial; replaces the call's earlier record. */
  | { type: "actionRecorded"; action: ActionRecord }
  /** Every change still `Started` (Steward stopped while it ran) becomes `Unknown`: never run again. */
  | { type: "outcomesUnknown"; message: string }
  /** A call waits for a person. */
  | { type: "awaitingApproval"; pending: PendingApproval; message: string }
  /** An attempt's verification: when it ended, and whether the drift was gone. */
  | { type: "verification"; attempt: number; at: string; cleared: boolean; details: string; summary: string }
  /** Another attempt begins, investigating (idempotent: a resumed session may start the same attempt again). */
  | { type: "attemptStarted"; attempt: number; at: string; message: string }
  | { type: "sessionEnded"; end: SessionEnd; at: string }
  /** Why the session does not run now (Cooldown, CircuitOpen…), or that it goes on again. */
  | { type: "waiting"; reason: string; message: string }
  /** Pending or awaiting approval, and the drift went away by itself. */
  | { type: "driftCleared"; at: string }
  | { type: "cancelled"; reason: string; message: string; at: string }
  /** The audit trail's last line on disk, on its own (other changes can carry it too: `apply`). */
  | { type: "auditHead"; head: AuditHead };

const CLOSING: Record<SessionEnd["type"], { phase: RemediationPhase; reason: string }> = {
  resolved: { phase: "Resolved", reason: "Verified" },
  escalated: { phase: "Escalated", reason: "Escalated" },
  interrupted: { phase: "Interrupted", reason: "ActionsInterrupted" },
};

/** The status after `change`. Pure. */
export function applyStatusChange(status: RemediationStatus, change: RemediationStatusChange): RemediationStatus {
  switch (change.type) {
    case "sessionStarted":
      return {
        ...status,
        sessionId: change.sessionId,
        phase: "Investigating",
        reason: "AgentInvestigating",
        message: change.message,
        attempts: [{ number: 1, startedAt: change.at }],
      };
    case "sessionHandedOver":
      return {
        ...status,
        sessionId: change.sessionId,
        phase: change.keepsPendingCall ? status.phase : "Investigating",
        reason: "SessionHandover",
        message: change.message,
        pendingApproval: change.keepsPendingCall ? status.pendingApproval : [],
      };
    case "phase":
      return withPhase(status, change.phase, change.message);
    case "usage":
      return { ...status, usage: change.usage };
    case "actionStarted":
      return {
        ...status,
        phase: "Remediating",
        message: change.message,
        pendingApproval: [],
        actions: withAction(status.actions, change.action),
      };
    case "actionRecorded":
      return { ...status, actions: withAction(status.actions, change.action) };
    case "outcomesUnknown":
      return {
        ...status,
        actions: status.actions.map((a) => (a.state === "Started" ? { ...a, state: "Unknown" } : a)),
        phase: "Investigating",
        reason: "ActionOutcomeUnknown",
        message: change.message,
        pendingApproval: [],
      };
    default:
      return applyOutcomeChange(status, change);
  }
}

/** What a session's steps came to: a person asked, a verification, another attempt, the end. */
function applyOutcomeChange(status: RemediationStatus, change: RemediationStatusChange): RemediationStatus {
  switch (change.type) {
    case "awaitingApproval":
      return { ...status, phase: "AwaitingApproval", message: change.message, pendingApproval: [change.pending] };
    case "verification":
      return verified(status, change);
    case "attemptStarted":
      return {
        ...withPhase(status, "Investigating", change.message),
        attempts: [
          ...status.attempts.filter((a) => a.number !== change.attempt),
          { number: change.attempt, startedAt: change.at },
        ],
      };
    case "sessionEnded":
      return ended(status, change.end, change.at);
    default:
      return applyOwnerChange(status, change);
  }
}

/** The changes the owning controller makes itself, and the audit anchor. */
function applyOwnerChange(status: RemediationStatus, change: RemediationStatusChange): RemediationStatus {
  switch (change.type) {
    case "waiting":
      return { ...status, reason: change.reason, message: change.message };
    case "driftCleared":
      return {
        ...status,
        phase: "Resolved",
        reason: "DriftCleared",
        message: "the drift cleared without any action from the agent",
        closedAt: change.at,
      };
    case "cancelled":
      return { ...status, phase: "Cancelled", reason: change.reason, message: change.message, closedAt: change.at };
    case "auditHead":
      return { ...status, auditHead: change.head };
    default:
      return status;
  }
}

function verified(
  status: RemediationStatus,
  change: Extract<RemediationStatusChange, { type: "verification" }>,
): RemediationStatus {
  const outcome = change.cleared ? "Verified" : `NotVerified: ${change.details}`;
  const attempts = status.attempts.map((a) =>
    a.number === change.attempt ? { ...a, finishedAt: change.at, outcome } : a,
  );
  return change.cleared
    ? { ...status, attempts, summary: change.summary, verifiedAt: change.at }
    : { ...status, attempts };
}

function ended(status: RemediationStatus, end: SessionEnd, at: string): RemediationStatus {
  const { phase, reason } = CLOSING[end.type];
  return {
    ...status,
    phase,
    reason,
    message: end.type === "resolved" ? "the agent's fix was verified: the drift is gone" : end.reason,
    summary: end.type === "resolved" ? end.summary : (status.summary ?? end.reason),
    pendingApproval: [],
    closedAt: at,
  };
}

/** A pending approval lasts only while the phase is AwaitingApproval. */
function withPhase(status: RemediationStatus, phase: RemediationPhase, message: string): RemediationStatus {
  if (status.phase === phase) return status;
  return { ...status, phase, message, pendingApproval: phase === "AwaitingApproval" ? status.pendingApproval : [] };
}

/** One record per call: a later record of the same call (its result) replaces the earlier one. */
function withAction(actions: readonly ActionRecord[], record: ActionRecord): ActionRecord[] {
  return [...actions.filter((a) => a.id !== record.id), record];
}

/**
 * How the owner's reconciler and the session it runs change a remediation's status: the
 * status as last written, and a way to change it. `apply` resolves once the store holds the
 * new status durably (the file store fsynced it; the API server committed it), which is
 * what lets a session record a change as `Started` before running it (ADR 0005).
 */
export interface RemediationStatusPort {
  readonly current: RemediationStatus;
  /**
   * Applies `change` and writes the result; nothing is written when nothing changed.
   * `auditHead`, when given, is recorded with it: the last audit entry on disk now. Changes
   * apply in call order, so a caller may go on before one is written (a session's usage
   * figures) and the next change still lands after it.
   */
  apply(change: RemediationStatusChange, auditHead?: AuditHead): Promise<void>;
}

/**
 * The writer for one remediation during one reconcile of its owner. It keeps the status it
 * last wrote, so changes apply to what the store holds (the owner is the only writer: no
 * one else's write can come in between). Each step a person would look for is also an
 * Event on the remediation (`kubectl describe`): a phase change, and every change the agent
 * made once its outcome is known — run, approved (by whom), denied, or unknown.
 */
export class RemediationStatusWriter implements RemediationStatusPort {
  private status: RemediationStatus;
  /** The write in flight: changes apply one after another, each to what the one before wrote. */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly remediation: AgentRemediation,
    private readonly deps: { store: Store; events?: EventRecorder },
  ) {
    this.status = remediation.status ?? emptyRemediationStatus();
  }

  get current(): RemediationStatus {
    return this.status;
  }

  /** In call order even when a caller does not wait for one change before making the next. */
  apply(change: RemediationStatusChange, auditHead?: AuditHead): Promise<void> {
    const written = this.writing.then(() => this.write(change, auditHead));
    this.writing = written.catch(() => undefined);
    return written;
  }

  private async write(change: RemediationStatusChange, auditHead: AuditHead | undefined): Promise<void> {
    const before = this.status;
    // A transition people are told of carries its outbox record in this same write (ADR 0012);
    // the conditions follow the phase (kubectl wait --for=condition=Resolved): recomputed on every write.
    const changed = withTransitionRecord(before, applyStatusChange(before, change), new Date());
    const next = withRemediationConditions(
      auditHead === undefined ? changed : { ...changed, auditHead },
      this.remediation.metadata.generation ?? 1,
      new Date(),
    );
    if (isDeepStrictEqual(next, before)) return;
    const { namespace, name } = this.remediation.metadata;
    await this.deps.store.updateStatus("AgentRemediation", { namespace, name }, next);
    this.status = next;
    this.recordSteps(before, next);
  }

  private recordSteps(before: RemediationStatus, after: RemediationStatus): void {
    const events = this.deps.events;
    if (!events) return;
    if (after.phase !== before.phase) {
      const type = WARNING_PHASES.has(after.phase) ? "Warning" : "Normal";
      events.record(this.remediation, {
        type,
        reason: after.phase,
        action: "Remediate",
        note: after.message ?? `${before.phase} → ${after.phase}`,
      });
    }
    // Once per change, when its outcome is known: a denial at once; a change that ran when its
    // record leaves `Started` (the idempotency record written before it runs).
    const settled = (a: ActionRecord): boolean => a.state !== "Started";
    const known = new Set(before.actions.filter(settled).map((a) => a.id));
    for (const action of after.actions.filter((a) => settled(a) && !known.has(a.id)))
      events.record(this.remediation, actionEvent(action));
  }
}

/** Phases a person must act on. */
const WARNING_PHASES: ReadonlySet<RemediationPhase> = new Set(["Escalated", "Failed", "Interrupted"]);

function actionEvent(action: ActionRecord): StewardEvent {
  const denied = action.decision === "deny";
  const by = action.approver ? ` (${denied ? "denied" : "approved"} by ${action.approver})` : "";
  const result = denied
    ? "denied"
    : action.state === "Unknown"
      ? "outcome unknown (Steward stopped while it ran)"
      : action.exitCode === 0
        ? "ran"
        : `failed (exit code ${action.exitCode ?? "?"})`;
  return {
    type: denied || action.exitCode !== 0 ? "Warning" : "Normal",
    reason: denied ? "ActionDenied" : "ActionExecuted",
    action: action.tool,
    note: `${action.command.join(" ")}: ${result}${by}`,
  };
}
