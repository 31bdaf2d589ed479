/**
 * What a starting agent session does with changes a stopped Steward left half-done.
 *
 * Every change the agent runs has an idempotency record: before it runs, its action is
 * written to the remediation's status as `Started` (the store fsyncs it; in Kubernetes the
 * API server has committed it), an `action` line is fsynced to the audit trail, and the
 * conversation is saved. When the result is in, the record becomes `Finished` with the
 * exit code. A record still `Started` when a session (re)starts belongs to a Steward that
 * stopped mid-change (nothing else runs this remediation's changes): it may or may not have
 * taken effect, so it becomes `Unknown` and is **never run again blindly**. The model gets
 * that as the call's result and re-observes; anything it does next is a new call, judged by
 * the policy and, in approve mode, approved by a person anew.
 *
 * A second unknown outcome in one remediation stops it instead (`Interrupted`): one crash
 * during a change is bad luck; two mean the change itself may be what kills Steward, or the
 * host is unstable, and a person should look before anything else is changed.
 */
import type Anthropic from "@anthropic-ai/sdk";
import type { ActionRecord, RemediationStatus } from "../api/remediation.js";
import { applyStatusChange, type RemediationStatusChange } from "../reconcile/remediation-status.js";
import type { SessionState } from "./session.js";

/** Unknown outcomes a remediation survives; the next one marks it Interrupted. */
export const MAX_UNKNOWN_ACTIONS = 1;

export interface ActionRecovery {
  /** The status with every `Started` action marked `Unknown` (unchanged when there was none). */
  status: RemediationStatus;
  /** The change that makes `status` from the status given (for its writer); absent when there is none. */
  change?: RemediationStatusChange;
  /** The actions found half-done now. */
  unknown: ActionRecord[];
  /** Why the remediation must stop here, when it must. */
  interrupt?: string;
}

const command = (a: ActionRecord): string => a.command.join(" ");

/** Marks the changes a stopped Steward left `Started` as `Unknown`, and says whether to go on. Pure. */
export function recoverActions(status: RemediationStatus): ActionRecovery {
  const unknown = status.actions.filter((a) => a.state === "Started");
  if (unknown.length === 0) return { status, unknown };
  const listed = unknown.map(command).join("; ");
  const change: RemediationStatusChange = {
    type: "outcomesUnknown",
    message: `Steward stopped while ${listed} ran; its outcome is unknown and it is not run again: the agent re-observes`,
  };
  const next = applyStatusChange(status, change);
  const all = next.actions.filter((a) => a.state === "Unknown");
  if (all.length <= MAX_UNKNOWN_ACTIONS) return { status: next, change, unknown };
  const interrupt =
    `Steward stopped during ${all.length} changes of this remediation (${all.map(command).join("; ")}), whose outcomes are unknown; ` +
    "check the system before changing anything else";
  return { status: next, change, unknown, interrupt };
}

/** What the model is told about a call the record already answers; undefined when it has not run. Pure. */
export function recordedResult(action: ActionRecord | undefined): { content: string; isError: boolean } | undefined {
  if (!action) return undefined;
  if (action.decision === "deny") {
    return {
      content: `denied${action.approver ? ` by ${action.approver}` : " by policy"}; do not retry this action`,
      isError: true,
    };
  }
  if (action.state === "Started" || action.state === "Unknown") {
    return {
      content:
        "Steward stopped while this change was running, and restarted. Its outcome is unknown, so it was not run again. " +
        "Re-observe the current state before deciding what to do; calling it again is a new change, judged by the policy " +
        "(and, in approve mode, approved by a person) anew.",
      isError: true,
    };
  }
  const exit = action.exitCode ?? 0;
  return {
    content: `This change ran before Steward restarted${action.dryRun ? " (dry run)" : ""}: exit code ${exit}. Its output was not kept; re-observe the current state before going on.`,
    isError: exit !== 0,
  };
}

/**
 * Answers, from the record, the pending calls of a resumed conversation that were decided
 * or run before Steward stopped; calls without a record are left to run normally. Returns
 * the results it added (the caller audits them and saves the state).
 */
export function answerFromRecord(
  state: SessionState,
  actions: readonly ActionRecord[],
): Anthropic.Messages.ToolResultBlockParam[] {
  const pending = state.pending;
  if (!pending) return [];
  const added: Anthropic.Messages.ToolResultBlockParam[] = [];
  for (const use of pending.toolUses) {
    if (pending.results.some((r) => r.tool_use_id === use.id)) continue;
    const result = recordedResult(actions.find((a) => a.id === use.id));
    if (!result) continue;
    added.push({ type: "tool_result", tool_use_id: use.id, content: result.content, is_error: result.isError });
  }
  pending.results.push(...added);
  return added;
}
