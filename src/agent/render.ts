/**
 * Renders an audit trail as the reasoning chain a person reads (`steward logs`): one block
 * per entry — time (UTC), what happened, the gist — in file order. It must never throw on
 * what it reads: entries from older or newer Stewards may lack fields or carry unknown
 * kinds, which render as compact JSON instead.
 */
import type { AuditEntry, JsonObject, JsonValue } from "./audit.js";
import { escapeInvisible } from "../text/escape.js";

export interface RenderOptions {
  /** ANSI colours, for a terminal. */
  color?: boolean;
}

type Tone = "plain" | "good" | "warn" | "bad" | "quiet";
interface Block {
  text: string[];
  tone: Tone;
}

const LABELS: Record<string, string> = {
  reasoning: "reasoning",
  tool_call: "tool call",
  policy_decision: "policy",
  approval: "approval",
  tool_result: "result",
  model_usage: "usage",
  verification: "verification",
  phase_change: "phase",
  session: "session",
  action: "change",
};
const LABEL_WIDTH = 13;
const INDENT = " ".repeat(8 + 2 + LABEL_WIDTH);
const MAX_RESULT_LINES = 10;
const MAX_REASONING_LINES = 40;
const MAX_LINE_CHARS = 200;
const MAX_INPUT_CHARS = 300;
const COLORS: Record<Tone | "time" | "label", [string, string]> = {
  plain: ["", ""],
  good: ["\x1b[32m", "\x1b[39m"],
  warn: ["\x1b[33m", "\x1b[39m"],
  bad: ["\x1b[31m", "\x1b[39m"],
  quiet: ["\x1b[2m", "\x1b[22m"],
  time: ["\x1b[2m", "\x1b[22m"],
  label: ["\x1b[1m", "\x1b[22m"],
};

/**
 * Tool output and model text are untrusted, and the file may have been edited: control and
 * invisible characters, which could drive the terminal or hide text, are shown as escapes.
 */
function clean(text: string): string {
  return escapeInvisible(text.replace(/\r\n?/g, "\n"), "\n\t");
}

function clip(line: string, max: number): string {
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function str(data: JsonObject, key: string): string | undefined {
  const v = data[key];
  return typeof v === "string" ? v : undefined;
}

function num(data: JsonObject, key: string): number | undefined {
  const v = data[key];
  return typeof v === "number" ? v : undefined;
}

function compact(value: JsonValue | undefined, max: number): string {
  return clip(JSON.stringify(value ?? null) ?? "null", max);
}

/** Up to `max` lines, each clipped, with a note of how many were left out. */
function excerpt(text: string, max: number): string[] {
  const lines = clean(text).replace(/\n+$/, "").split("\n");
  const shown = lines.slice(0, max).map((l) => clip(l, MAX_LINE_CHARS));
  if (lines.length > max) shown.push(`… ${lines.length - max} more lines`);
  return shown;
}

function policy(d: JsonObject): Block {
  const decision = str(d, "decision") ?? "?";
  const rule = str(d, "rule");
  const reason = str(d, "reason");
  const text = `${decision}${rule !== undefined ? ` — rule "${rule}"` : ""}${reason ? ` (${reason})` : ""}`;
  const tone: Tone = decision === "allow" ? "good" : decision === "deny" ? "bad" : "warn";
  return { text: [text], tone };
}

function approval(d: JsonObject): Block {
  const approved = d.approved === true;
  const reason = str(d, "reason");
  const id = str(d, "id");
  const text = `${approved ? "approved" : "denied"} by ${str(d, "by") ?? "?"}${reason ? `: ${reason}` : ""}${id ? ` (id ${id})` : ""}`;
  return { text: [text], tone: approved ? "good" : "bad" };
}

/** `error, exit 1`, and whether the result reads as a failure. */
function resultStatus(d: JsonObject): { status: string; tone: Tone } {
  const exit = num(d, "exitCode");
  const isError = d.isError === true;
  const status = [isError ? "error" : undefined, exit !== undefined ? `exit ${exit}` : undefined]
    .filter(Boolean)
    .join(", ");
  return { status, tone: isError || (exit !== undefined && exit !== 0) ? "bad" : "plain" };
}

function result(d: JsonObject, tool: string | undefined): Block {
  const { status, tone } = resultStatus(d);
  const lines = excerpt(str(d, "output") ?? "", MAX_RESULT_LINES);
  const prefix = tool !== undefined ? `[${tool}] ` : "";
  if (lines.length === 1) {
    const only = lines[0] || "(no output)";
    return { text: [`${prefix}${only}${status ? ` (${status})` : ""}`], tone };
  }
  return { text: [`${prefix}${status || "output"}:`, ...lines], tone };
}

function usage(d: JsonObject): Block {
  const parts = [`${num(d, "inputTokens") ?? "?"} in / ${num(d, "outputTokens") ?? "?"} out tokens`];
  const read = num(d, "cacheReadTokens");
  const write = num(d, "cacheWriteTokens");
  const cost = num(d, "costUSD");
  if (read) parts.push(`cache read ${read}`);
  if (write) parts.push(`cache write ${write}`);
  if (cost !== undefined) parts.push(`~$${cost.toFixed(4)}`);
  const stop = str(d, "stopReason");
  if (stop !== undefined && stop !== "tool_use" && stop !== "end_turn") parts.push(`stop ${stop}`);
  return { text: [parts.join(", ")], tone: "quiet" };
}

function verification(d: JsonObject): Block {
  const cleared = d.cleared === true;
  const details = str(d, "details");
  const phase = str(d, "phase");
  const attempt = num(d, "attempt");
  const text =
    `${cleared ? "drift gone" : "drift still present"}${details ? `: ${details}` : ""}` +
    `${phase ? ` → ${phase}` : ""}${attempt !== undefined ? ` (attempt ${attempt})` : ""}`;
  return { text: [text], tone: cleared ? "good" : "bad" };
}

function session(d: JsonObject): Block {
  const model = str(d, "model");
  const mode = str(d, "mode");
  const attempt = num(d, "attempt");
  const line = num(d, "line");
  const details = [
    model !== undefined ? `model ${model}` : undefined,
    mode !== undefined ? `mode ${mode}` : undefined,
    attempt !== undefined ? `attempt ${attempt}` : undefined,
    line !== undefined ? `line ${line}` : undefined,
  ].filter(Boolean);
  const reason = str(d, "reason");
  const text = `${str(d, "event") ?? "?"}${details.length ? ` (${details.join(", ")})` : ""}${reason ? `: ${reason}` : ""}`;
  return { text: [text], tone: str(d, "event") === "repaired" ? "warn" : "plain" };
}

/** Tool names by id, and the ids of the latest run of calls (parallel calls of one turn). */
interface Context {
  tools: Map<string, string>;
  batch: Set<string>;
  inCalls: boolean;
}

const RENDERERS: Record<string, (d: JsonObject, ctx: Context) => Block> = {
  reasoning: (d) => ({ text: excerpt(str(d, "text") ?? "", MAX_REASONING_LINES), tone: "plain" }),
  tool_call: (d) => ({ text: [`${str(d, "tool") ?? "?"} ${compact(d.input, MAX_INPUT_CHARS)}`], tone: "plain" }),
  policy_decision: policy,
  approval,
  tool_result: (d, ctx) => {
    // Name the tool when its call was one of several in a turn: the result may not follow it.
    const id = str(d, "id");
    return result(d, id !== undefined && ctx.batch.size > 1 ? ctx.tools.get(id) : undefined);
  },
  model_usage: usage,
  verification,
  phase_change: (d) => {
    const reason = str(d, "reason");
    return {
      text: [`${str(d, "from") ?? "?"} → ${str(d, "to") ?? "?"}${reason ? ` (${reason})` : ""}`],
      tone: "plain",
    };
  },
  session,
  action: (d) => {
    const command = Array.isArray(d.command)
      ? d.command.filter((c): c is string => typeof c === "string").join(" ")
      : "?";
    const unknown = str(d, "state") === "Unknown";
    const reason = str(d, "reason");
    return {
      text: [`${command}: ${unknown ? "outcome unknown, not run again" : "started"}${reason ? ` (${reason})` : ""}`],
      tone: unknown ? "warn" : "plain",
    };
  },
};

function dataOf(entry: AuditEntry): JsonObject {
  const data: unknown = entry.data;
  return typeof data === "object" && data !== null && !Array.isArray(data) ? (data as JsonObject) : {};
}

function timeOf(entry: AuditEntry): { day: string; clock: string } {
  const time = typeof entry.time === "string" ? entry.time : "";
  return { day: time.slice(0, 10) || "unknown date", clock: (time.slice(11, 19) || "??:??:??").padEnd(8) };
}

function track(ctx: Context, entry: AuditEntry, data: JsonObject): void {
  const id = str(data, "id");
  if (entry.kind === "tool_call") {
    if (!ctx.inCalls) ctx.batch = new Set();
    ctx.inCalls = true;
    if (id !== undefined) {
      ctx.batch.add(id);
      ctx.tools.set(id, str(data, "tool") ?? "?");
    }
  } else if (entry.kind !== "policy_decision" && entry.kind !== "approval" && entry.kind !== "action") {
    ctx.inCalls = false;
  }
}

/** Renders the entries, in order, as text for a person; a date line opens each UTC day. */
export function renderAuditForPerson(entries: readonly AuditEntry[], options: RenderOptions = {}): string {
  const paint = (kind: keyof typeof COLORS, text: string): string =>
    options.color === true ? `${COLORS[kind][0]}${text}${COLORS[kind][1]}` : text;
  const ctx: Context = { tools: new Map(), batch: new Set(), inCalls: false };
  const out: string[] = [];
  let day: string | undefined;
  for (const entry of entries) {
    const time = timeOf(entry);
    if (time.day !== day) out.push(paint("time", `${(day = time.day)} (UTC)`));
    const data = dataOf(entry);
    const render = RENDERERS[entry.kind];
    const block = render ? render(data, ctx) : { text: [compact(data, MAX_INPUT_CHARS)], tone: "plain" as const };
    track(ctx, entry, data);
    const label = clean(LABELS[entry.kind] ?? String(entry.kind)).padEnd(LABEL_WIDTH);
    const [first = "", ...rest] = block.text.map(clean);
    out.push(`${paint("time", time.clock)}  ${paint("label", label)}${paint(block.tone, first)}`);
    const restTone = entry.kind === "tool_result" ? "quiet" : block.tone;
    for (const line of rest) out.push(`${INDENT}${paint(restTone, line)}`);
  }
  return out.length ? `${out.join("\n")}\n` : "";
}
