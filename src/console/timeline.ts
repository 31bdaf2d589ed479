/**
 * An audit trail as the steps a person follows on the remediation page: what the model
 * said, each tool call with everything that happened to it (the policy's decision and its
 * rule, a person's approval, the change record, the result), verifications, phase changes.
 * Entries are tied to their call by the model's tool_use id, so a call's result shows on
 * the call even when parallel calls interleave. Like `renderAuditForPerson`, it never
 * throws on what it reads: a missing field is left out, an unknown kind becomes a note.
 */
import type { AuditEntry, JsonObject, JsonValue } from "../agent/audit.js";

export interface CallStep {
  kind: "call";
  time: string;
  id: string;
  tool: string;
  input: string;
  decision?: { decision: string; reason?: string; stage?: string; rule?: string };
  approval?: { approved: boolean; by: string; reason?: string };
  change?: { state: string; reason?: string };
  result?: { isError: boolean; output: string; exitCode?: number; durationMs?: number };
}

export type TimelineStep =
  | { kind: "reasoning"; time: string; text: string }
  | CallStep
  | { kind: "verification"; time: string; cleared: boolean; details: string; phase?: string; attempt?: number }
  | { kind: "phase"; time: string; from: string; to: string; reason?: string }
  | { kind: "usage"; time: string; inputTokens: number; outputTokens: number; costUSD?: number }
  | { kind: "note"; time: string; label: string; text: string };

const str = (d: JsonObject, key: string): string | undefined => (typeof d[key] === "string" ? d[key] : undefined);
const num = (d: JsonObject, key: string): number | undefined => (typeof d[key] === "number" ? d[key] : undefined);

function dataOf(entry: AuditEntry): JsonObject {
  const data: unknown = entry.data;
  return typeof data === "object" && data !== null && !Array.isArray(data) ? (data as JsonObject) : {};
}

function inputText(value: JsonValue | undefined): string {
  return JSON.stringify(value ?? {}) ?? "{}";
}

/** Attaches what an entry says about a call to that call's step; false when the entry is not about a call. */
function attach(call: CallStep, kind: string, d: JsonObject): boolean {
  switch (kind) {
    case "policy_decision":
      call.decision = {
        decision: str(d, "decision") ?? "?",
        reason: str(d, "reason"),
        stage: str(d, "stage"),
        rule: str(d, "rule"),
      };
      return true;
    case "approval":
      call.approval = { approved: d.approved === true, by: str(d, "by") ?? "?", reason: str(d, "reason") };
      return true;
    case "action":
      call.change = { state: str(d, "state") ?? "?", reason: str(d, "reason") };
      return true;
    case "tool_result":
      call.result = {
        isError: d.isError === true,
        output: str(d, "output") ?? "",
        exitCode: num(d, "exitCode"),
        durationMs: num(d, "durationMs"),
      };
      return true;
    default:
      return false;
  }
}

function sessionNote(d: JsonObject): string {
  const details = [str(d, "model") && `model ${str(d, "model")}`, str(d, "mode") && `mode ${str(d, "mode")}`]
    .concat(num(d, "attempt") !== undefined ? [`attempt ${num(d, "attempt")}`] : [])
    .filter(Boolean);
  const reason = str(d, "reason");
  return `${str(d, "event") ?? "?"}${details.length ? ` (${details.join(", ")})` : ""}${reason ? `: ${reason}` : ""}`;
}

/** The step of an entry that stands on its own, by kind. */
const STANDALONE: Record<string, (time: string, d: JsonObject) => TimelineStep> = {
  reasoning: (time, d) => ({ kind: "reasoning", time, text: str(d, "text") ?? "" }),
  verification: (time, d) => ({
    kind: "verification",
    time,
    cleared: d.cleared === true,
    details: str(d, "details") ?? "",
    phase: str(d, "phase"),
    attempt: num(d, "attempt"),
  }),
  phase_change: (time, d) => ({
    kind: "phase",
    time,
    from: str(d, "from") ?? "?",
    to: str(d, "to") ?? "?",
    reason: str(d, "reason"),
  }),
  model_usage: (time, d) => ({
    kind: "usage",
    time,
    inputTokens: num(d, "inputTokens") ?? 0,
    outputTokens: num(d, "outputTokens") ?? 0,
    costUSD: num(d, "costUSD"),
  }),
  session: (time, d) => ({ kind: "note", time, label: "session", text: sessionNote(d) }),
};

function standalone(kind: string, time: string, d: JsonObject): TimelineStep {
  const build = STANDALONE[kind];
  return build ? build(time, d) : { kind: "note", time, label: kind, text: inputText(d) };
}

/** The steps, in the order their first entry was written. */
export function timelineOf(entries: readonly AuditEntry[]): TimelineStep[] {
  const steps: TimelineStep[] = [];
  const calls = new Map<string, CallStep>();
  for (const entry of entries) {
    const d = dataOf(entry);
    const time = typeof entry.time === "string" ? entry.time : "";
    const kind = String(entry.kind);
    const id = str(d, "id");
    if (kind === "tool_call" && id !== undefined) {
      const call: CallStep = { kind: "call", time, id, tool: str(d, "tool") ?? "?", input: inputText(d.input) };
      calls.set(id, call);
      steps.push(call);
      continue;
    }
    const call = id !== undefined ? calls.get(id) : undefined;
    if (call && attach(call, kind, d)) continue;
    steps.push(standalone(kind, time, d));
  }
  return steps;
}
