/**
 * Continuing an agent session on another replica (failover).
 *
 * A session's conversation lives in the state directory of the replica that ran it
 * (`sessions/<ns>/<name>.json`); replicas do not share state directories. What they share
 * is the remediation's status in the API server: `phase`, `sessionId`, `attempts[]`,
 * `usage`, `pendingApproval[]` and `actions[]`, where every mutating step is recorded as
 * soon as it ran (or was denied). The assumption: **the status is the only record of what
 * was done that survives a failover**; the conversation and the audit lines of the old
 * replica stay on it.
 *
 * So a replica that must continue a session whose conversation it does not have starts a
 * new conversation under a new session id (a stale copy elsewhere then never matches the
 * status and is never resumed), with the same attempt number and the usage and mutations
 * so far counted against the budgets. Its first message is the incident plus what the
 * status says was done. A call that was waiting for approval is put back as the model's
 * pending tool call, with the same id, so an approval given before or after the failover
 * runs it exactly once through the usual policy → approval → execute path (the policy is
 * judged again). The one step that may have run without a record is the one in flight
 * when the leader died (phase Remediating: it ran, its result was not yet written); the
 * model is told its fate is unknown, and anything it does about it is a new call, judged
 * and (in approve mode) approved anew.
 */
import type Anthropic from "@anthropic-ai/sdk";
import { isDeepStrictEqual } from "node:util";
import type { DesiredState } from "../api/desired-state.js";
import type { ActionRecord, AgentRemediation, PendingApproval, RemediationStatus } from "../api/remediation.js";
import { emptyRemediationStatus } from "../reconcile/remediations.js";
import type { SessionCounters } from "./budgets.js";
import { incidentMessage } from "./prompt.js";
import { changeStatus, type SessionRecords, type SessionState } from "./session.js";
import { newSessionId } from "./session-store.js";
import { findTool, toolsetFor, type Toolset } from "./toolsets.js";

/** How a run of the agent starts: from its saved conversation, from scratch, or by handover. */
export type SessionStart = { type: "resume"; state: SessionState } | { type: "begin" } | { type: "handover" };

/**
 * A saved conversation is resumed only if it is the one the status names; a session in
 * progress without it is handed over; anything else begins afresh. Pure.
 */
export function sessionStart(remediation: AgentRemediation, saved: SessionState | undefined): SessionStart {
  const status = remediation.status;
  if (saved !== undefined && saved.sessionId === status?.sessionId) return { type: "resume", state: saved };
  const inProgress = status?.sessionId !== undefined && status.phase !== "Pending";
  return inProgress ? { type: "handover" } : { type: "begin" };
}

export interface HandoverInput {
  model: string;
  outputCap: number;
  now: Date;
}

/** Builds the new conversation from the status, records the handover, and saves it. */
export async function handOver(
  remediation: AgentRemediation,
  desiredState: DesiredState,
  input: HandoverInput,
  records: SessionRecords,
): Promise<SessionState> {
  const status = remediation.status ?? emptyRemediationStatus();
  const state = handoverState(remediation, desiredState, input);
  const resumesCall = state.pending !== undefined;
  const reason = `continues session ${status.sessionId ?? "?"} (phase ${status.phase}), whose conversation is on another replica`;
  await records.audit.append(
    "session",
    {
      event: "handover",
      sessionId: state.sessionId,
      model: state.model,
      mode: remediation.spec.mode,
      attempt: state.attempt,
      reason,
    },
    { sync: true },
  );
  // A call awaiting approval stays pending; any other step starts over from investigating.
  await changeStatus(
    records,
    {
      type: "sessionHandedOver",
      sessionId: state.sessionId,
      message: `agent session ${state.sessionId} ${reason}; it starts from what the status records`,
      keepsPendingCall: resumesCall,
    },
    { reason: "session handover" },
  );
  await records.saveState(state);
  return state;
}

/** The new conversation: the incident, what was done, and the call awaiting approval if any. Pure. */
export function handoverState(
  remediation: AgentRemediation,
  desiredState: DesiredState,
  input: HandoverInput,
): SessionState {
  const status = remediation.status ?? emptyRemediationStatus();
  const waiting = status.phase === "AwaitingApproval" ? status.pendingApproval[0] : undefined;
  const call = waiting && pendingCall(waiting, toolsetFor(desiredState.spec.target));
  const note = handoverNote(status, waiting, call !== undefined);
  const state: SessionState = {
    sessionId: newSessionId(input.now),
    model: input.model,
    attempt: status.attempts.at(-1)?.number ?? 1,
    messages: [{ role: "user", content: `${incidentMessage(desiredState, remediation, input.outputCap)}\n\n${note}` }],
    counters: carriedCounters(status, input.now),
    nudges: 0,
  };
  if (call) {
    const block: Anthropic.Messages.ToolUseBlockParam = {
      type: "tool_use",
      id: call.id,
      name: call.name,
      input: call.input,
    };
    state.messages.push({ role: "assistant", content: [block] });
    state.pending = { toolUses: [call], results: [], decisions: {} };
  }
  return state;
}

/**
 * The tool call a pending approval stands for, rebuilt from its tool and argv: an input is
 * accepted only if the tool validates it and maps it back to exactly the argv a person was
 * asked to approve. Undefined when no candidate does (the model must then ask again).
 */
export function pendingCall(
  pending: PendingApproval,
  toolset: Toolset,
): { id: string; name: string; input: Record<string, unknown> } | undefined {
  const tool = findTool(toolset, pending.tool);
  if (!tool) return undefined;
  const { command } = pending;
  const last = command.at(-1);
  // The input shapes of the mutating tools (docker_*, shell, kube_*); the check below makes a wrong guess harmless.
  const candidates: Record<string, unknown>[] = [
    { container: last },
    { argv: command },
    { pod: last },
    { workload: last },
    { workload: command[2], replicas: Number(/^--replicas=(\d+)$/.exec(last ?? "")?.[1]) },
  ];
  const input = candidates.find((candidate) => {
    const parsed = tool.input.safeParse(candidate);
    return parsed.success && isDeepStrictEqual(tool.argv(parsed.data), command);
  });
  return input && { id: pending.id, name: pending.tool, input };
}

function carriedCounters(status: RemediationStatus, now: Date): SessionCounters {
  const usage = status.usage ?? { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };
  const started = Date.parse(status.attempts[0]?.startedAt ?? "");
  return {
    turns: 0,
    toolCalls: 0,
    mutations: status.actions.filter((a) => a.decision !== "deny").length,
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    cacheReadTokens: usage.cacheReadTokens,
    cacheWriteTokens: usage.cacheWriteTokens,
    startedAtMs: Number.isNaN(started) ? now.getTime() : started,
  };
}

function describeAction(action: ActionRecord): string {
  const who = action.approver ? `, approved by ${action.approver}` : "";
  const unknown = action.state === "Started" || action.state === "Unknown";
  const outcome =
    action.decision === "deny"
      ? "denied, not run"
      : unknown
        ? `started${who}; Steward stopped while it ran, so its outcome is unknown (it was not run again)`
        : `ran${who}, exit code ${action.exitCode ?? "unknown"}${action.dryRun ? " (dry run)" : ""}`;
  return `- ${action.time} ${action.tool}: ${action.command.join(" ")} — ${outcome}`;
}

/** What the model is told about the session it continues, in Steward's words (not untrusted data). */
function handoverNote(status: RemediationStatus, waiting: PendingApproval | undefined, resumed: boolean): string {
  const actions = status.actions.length > 0 ? status.actions.map(describeAction).join("\n") : "- none";
  const lines = [
    "Steward note: this incident was being handled by another Steward replica, which stopped. Its conversation is not available; Steward's record of the session follows. Check the current state before acting, and do not repeat a change that already ran unless the current state shows it is needed.",
    `Changes already made or refused in this incident:\n${actions}`,
    `Last recorded step: ${status.phase}${status.message ? `: ${status.message}` : ""}.`,
  ];
  if (status.phase === "Remediating")
    lines.push(
      "A change was in progress when the replica stopped and its result was not recorded: it may or may not have run.",
    );
  if (waiting && resumed)
    lines.push(
      `Your call ${waiting.id} (${waiting.command.join(" ")}) was waiting for a person's approval; its result follows.`,
    );
  if (waiting && !resumed)
    lines.push(
      `A call (${waiting.command.join(" ")}) was waiting for approval and was not run; call the tool again if it is still needed.`,
    );
  return lines.join("\n\n");
}
