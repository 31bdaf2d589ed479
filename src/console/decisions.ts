/**
 * What a press of Approve or Deny on a remediation page does, decided from the
 * remediation as it is now and the call ids the page showed. Pure, so every case is a
 * table test. The contract:
 * - Only the calls the page showed are decided, never "all": a page rendered before the
 *   model asked for a newer call cannot approve that call.
 * - Idempotent: pressing again (a double click, a second tab, a resent form) changes
 *   nothing and says the decision is already recorded.
 * - A call that is no longer waiting and was not decided this way (the page was stale)
 *   is refused, naming what is pending now; nothing is written.
 */
import { APPROVE, APPROVED_BY, DENIED_BY, DENY, DENY_REASON, approvalFor } from "../api/approvals.js";
import type { AgentRemediation, PendingApproval } from "../api/remediation.js";

export interface DecisionForm {
  approve: boolean;
  /** The pending call ids the page showed. */
  ids: string[];
  reason?: string;
}

export type DecisionPlan =
  | { type: "write"; annotations: Record<string, string>; calls: PendingApproval[] }
  | { type: "already"; message: string }
  | { type: "refused"; status: 400 | 409; message: string };

/** A deny reason is for the model and the audit trail: one paragraph, not a document. */
export const MAX_REASON_CHARS = 1_000;

function verb(approve: boolean): string {
  return approve ? "approved" : "denied";
}

/** How the call was decided, from the annotations or, once Steward acted on them, from the recorded change. */
function recordedDecision(remediation: AgentRemediation, id: string): { approved: boolean; by: string } | undefined {
  const annotated = approvalFor(remediation, id);
  if (annotated) return annotated;
  const action = remediation.status?.actions.find((a) => a.id === id && a.approver !== undefined);
  return action ? { approved: action.decision !== "deny", by: action.approver ?? "?" } : undefined;
}

function describePending(remediation: AgentRemediation): string {
  const pending = pendingNow(remediation);
  if (pending.length === 0)
    return `nothing is waiting for approval now (phase ${remediation.status?.phase ?? "Pending"})`;
  return `waiting now: ${pending.map((p) => `${p.id} (${p.command.join(" ")})`).join(", ")}`;
}

function pendingNow(remediation: AgentRemediation): PendingApproval[] {
  const status = remediation.status;
  return status?.phase === "AwaitingApproval" ? status.pendingApproval : [];
}

/** Why the form itself is unacceptable, or undefined. */
function formProblem(ids: readonly string[], reason: string): string | undefined {
  if (ids.length === 0) return "no pending call id in the form: reload the page";
  if (ids.some((id) => id === "all" || id.includes(","))) return 'a call id names one call (no "all", no commas)';
  if (reason.length > MAX_REASON_CHARS) return `the reason is longer than ${MAX_REASON_CHARS} characters`;
  return undefined;
}

/** Refused when a call was decided the other way; `already` when every call was decided this way. */
function earlierDecision(
  remediation: AgentRemediation,
  ids: readonly string[],
  approve: boolean,
): DecisionPlan | undefined {
  const recorded = ids.map((id) => ({ id, decision: recordedDecision(remediation, id) }));
  const opposite = recorded.find((r) => r.decision !== undefined && r.decision.approved !== approve);
  if (opposite?.decision)
    return {
      type: "refused",
      status: 409,
      message: `${opposite.id} was already ${verb(opposite.decision.approved)} by ${opposite.decision.by}; nothing was changed`,
    };
  if (recorded.every((r) => r.decision !== undefined))
    return {
      type: "already",
      message: `already ${verb(approve)}: ${recorded.map((r) => `${r.id} by ${r.decision?.by ?? "?"}`).join(", ")}`,
    };
  return undefined;
}

export function planDecision(remediation: AgentRemediation, form: DecisionForm, by: string): DecisionPlan {
  const ids = [...new Set(form.ids.map((id) => id.trim()).filter((id) => id !== ""))];
  const reason = (form.reason ?? "").trim();
  const problem = formProblem(ids, reason);
  if (problem !== undefined) return { type: "refused", status: 400, message: problem };
  const earlier = earlierDecision(remediation, ids, form.approve);
  if (earlier) return earlier;
  const pending = pendingNow(remediation);
  const gone = ids.filter((id) => !pending.some((p) => p.id === id));
  if (gone.length > 0)
    return {
      type: "refused",
      status: 409,
      message: `this page was out of date: ${gone.join(", ")} no longer waits for approval and nothing was ${verb(form.approve)}; ${describePending(remediation)}`,
    };
  const list = ids.join(",");
  return {
    type: "write",
    calls: pending.filter((p) => ids.includes(p.id)),
    annotations: form.approve
      ? { [APPROVE]: list, [APPROVED_BY]: by }
      : { [DENY]: list, [DENIED_BY]: by, [DENY_REASON]: reason || "denied" },
  };
}
