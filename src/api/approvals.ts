import type { AgentRemediation } from "./remediation.js";

/**
 * Approvals travel as annotations, so `kubectl annotate` and `steward approve` are the
 * same gesture: `steward.dev/approve: <tool-use id | all>` (with `steward.dev/approved-by`)
 * or `steward.dev/deny: <id | all>` (with `steward.dev/denied-by`, `steward.dev/deny-reason`).
 * A deny wins over an approve for the same call.
 */
export const APPROVE = "steward.dev/approve";
export const APPROVED_BY = "steward.dev/approved-by";
export const DENY = "steward.dev/deny";
export const DENIED_BY = "steward.dev/denied-by";
export const DENY_REASON = "steward.dev/deny-reason";

/** A person's decision on one pending call. */
export interface Approval {
  approved: boolean;
  by: string;
  reason?: string;
}

export function approvalFor(remediation: AgentRemediation, id: string): Approval | undefined {
  const annotations = remediation.metadata.annotations ?? {};
  const matches = (value: string | undefined): boolean =>
    value !== undefined && value.split(",").some((v) => v.trim() === id || v.trim() === "all");
  if (matches(annotations[DENY])) {
    return { approved: false, by: annotations[DENIED_BY] ?? "unknown", reason: annotations[DENY_REASON] };
  }
  if (matches(annotations[APPROVE])) return { approved: true, by: annotations[APPROVED_BY] ?? "unknown" };
  return undefined;
}

export function hasDecisionFor(remediation: AgentRemediation): boolean {
  const pending = remediation.status?.pendingApproval ?? [];
  return pending.some((p) => approvalFor(remediation, p.id) !== undefined);
}
