import type Anthropic from "@anthropic-ai/sdk";
import type { Approval } from "../api/approvals.js";
import type { AgentMode } from "../api/desired-state.js";
import type { RemediationPolicySpec } from "../api/policy.js";
import type { ActionRecord, PendingApproval, RemediationStatus } from "../api/remediation.js";
import { errorMessage } from "../errors.js";
import type { AuditLog } from "./audit.js";
import { estimateCostUSD, exceededBudget, type SessionCounters } from "./budgets.js";
import type { Provider } from "./providers.js";
import { ModelUnavailableError, type SessionOutcome } from "../reconcile/session-runner.js";
import type { RemediationStatusChange } from "../reconcile/remediation-status.js";
import { isTransientApiError } from "./model-errors.js";
import { classifyShell, decide, type PolicyDecision } from "./policy.js";
import type { ToolDefinition, ToolEnvironment, ToolResult } from "./tools.js";
import { findTool, toolParams, type Toolset } from "./toolsets.js";
import { wrapUntrusted } from "./untrusted.js";

type MessageParam = Anthropic.Messages.MessageParam;
type ToolResultBlock = Anthropic.Messages.ToolResultBlockParam;

interface ToolUse {
  id: string;
  name: string;
  input: unknown;
}

/**
 * Everything needed to continue a conversation, persisted after every step so a session
 * resumes where it stopped, also after Steward restarts (for example while it waits for
 * an approval).
 */
export interface SessionState {
  sessionId: string;
  model: string;
  attempt: number;
  messages: MessageParam[];
  /** The last assistant message's tool calls, while some are unanswered. */
  pending?: { toolUses: ToolUse[]; results: ToolResultBlock[]; decisions: Record<string, PolicyDecision> };
  counters: SessionCounters;
  nudges: number;
}

/**
 * What a session needs of an SDK client: a non-streaming `messages.create`. The Anthropic,
 * Bedrock and Vertex clients all have it, with the same request and response types.
 */
export interface MessagesClient {
  messages: {
    create(
      body: Anthropic.MessageCreateParamsNonStreaming,
      options?: Anthropic.RequestOptions,
    ): PromiseLike<Anthropic.Message>;
  };
}

/** The model the session talks to, and what it sends on every turn besides the conversation. */
export interface ModelAccess {
  client: MessagesClient;
  /** Where the client reaches Claude: whose prices the cost budget uses. */
  provider: Provider;
  system: string;
  maxTokens: number;
}

/** What decides whether a call may run, and how often the fix may be tried. */
export interface SessionRules {
  policy: RemediationPolicySpec;
  mode: AgentMode;
  maxAttempts: number;
  /** Decisions people took on pending calls, by tool-use id or "all". */
  approval(id: string): Approval | undefined;
}

/** The remediation's status as the session sees it: it asks the status's owner to apply each change. */
export interface SessionStatus {
  readonly current: RemediationStatus;
  /** Resolves once the change is durable in the store; changes apply in call order. */
  apply(change: RemediationStatusChange): Promise<void>;
}

/**
 * The session's three durable records: the audit trail, the remediation's status, and the
 * conversation. ADR 0005 fixes the order they are written in around a change.
 */
export interface SessionRecords extends StatusRecords {
  /** Resolves once this state, or a newer one, is on disk; saves land in call order. */
  saveState(state: SessionState): Promise<void>;
}

/** The audit trail and the status: a change of phase is written to both (`changeStatus`). */
export interface StatusRecords {
  audit: AuditLog;
  status: SessionStatus;
}

export interface SessionContext {
  model: ModelAccess;
  rules: SessionRules;
  tools: { toolset: Toolset; environment: ToolEnvironment };
  records: SessionRecords;
  signal: AbortSignal;
  /** Re-observes the remediation's original signals. */
  verify(): Promise<{ cleared: boolean; details: string }>;
}

const NUDGE =
  "You ended your turn without calling resolve or escalate. Call resolve if the drift is fixed, or escalate if you cannot fix it.";

/**
 * The hand-written tool-use loop. Each turn: check budgets, call the model, audit what it
 * said, then answer its tool calls one by one through the policy engine. It returns when
 * the incident is resolved (verified), escalated, or waits for a person. It changes the
 * remediation's status only through `ctx.records.status`: the controller running it owns
 * the status.
 */
export async function runSession(state: SessionState, ctx: SessionContext): Promise<SessionOutcome> {
  for (;;) {
    if (state.pending) {
      const outcome = await answerToolCalls(state, ctx);
      if (outcome) return outcome;
    }
    const exceeded = exceededBudget(state.counters, ctx.rules.policy.budgets, Date.now(), {
      next: "turn",
      model: state.model,
      provider: ctx.model.provider,
    });
    if (exceeded) return escalate(state, ctx, `budget ${exceeded.budget} reached: ${exceeded.message}`);
    let response: Anthropic.Messages.Message;
    try {
      response = await callModel(state, ctx);
    } catch (err) {
      // Shutdown is not a failure: the state is saved, and the session resumes after restart.
      if (ctx.signal.aborted) throw err;
      // An outage is not this incident's failure: the state is saved, and the session goes on when the API answers.
      if (isTransientApiError(err)) throw await modelUnavailable(state, ctx, err);
      return escalate(state, ctx, `the Messages API call failed: ${errorMessage(err)}`);
    }
    // The turn's records (audit lines, the usage figures in status) are written while its
    // tool calls are answered (afterTurn): the next request waits for both, not for one
    // after the other.
    const [, outcome] = await Promise.all([recordTurn(state, ctx, response), afterTurn(state, ctx, response)]);
    if (outcome) return outcome;
  }
}

async function callModel(state: SessionState, ctx: SessionContext): Promise<Anthropic.Messages.Message> {
  const { client, system, maxTokens } = ctx.model;
  return client.messages.create(
    {
      model: state.model,
      max_tokens: maxTokens,
      system: [{ type: "text", text: system, cache_control: { type: "ephemeral" } }],
      tools: toolParams(ctx.tools.toolset),
      messages: withCacheBreakpoint(state.messages),
    },
    { signal: ctx.signal },
  );
}

/**
 * The conversation with a prompt-cache breakpoint on its last block, so the next turn reads
 * everything up to here from the cache instead of paying for it again (the system prompt's
 * breakpoint covers only tools + system: measured, turns ≥ 2 then read about half their
 * input from the cache). Two breakpoints of the four the API allows. A copy: the stored
 * conversation keeps no markers, so they never pile up.
 */
export function withCacheBreakpoint(messages: readonly MessageParam[]): MessageParam[] {
  const last = messages.at(-1);
  if (!last || last.role === "system") return [...messages];
  const blocks: Anthropic.Messages.ContentBlockParam[] =
    typeof last.content === "string" ? [{ type: "text", text: last.content }] : [...last.content];
  const end = blocks.at(-1);
  if (!end || end.type === "thinking" || end.type === "redacted_thinking") return [...messages];
  blocks[blocks.length - 1] = { ...end, cache_control: { type: "ephemeral" } };
  return [...messages.slice(0, -1), { ...last, content: blocks }];
}

/**
 * Counts the turn and adds the reply to the conversation at once; the audit lines and the
 * status's usage figures are queued in that order before anything else of the turn (the
 * audit log and the status port each keep call order), and the promise settles when both
 * are written.
 */
function recordTurn(state: SessionState, ctx: SessionContext, response: Anthropic.Messages.Message): Promise<unknown> {
  const c = state.counters;
  c.turns += 1;
  c.inputTokens += response.usage.input_tokens;
  c.outputTokens += response.usage.output_tokens;
  c.cacheReadTokens += response.usage.cache_read_input_tokens ?? 0;
  c.cacheWriteTokens += response.usage.cache_creation_input_tokens ?? 0;
  const costUSD = estimateCostUSD(state.model, c, ctx.model.provider);
  const { audit, status } = ctx.records;
  state.messages.push({ role: "assistant", content: response.content });
  const written: Promise<unknown>[] = [
    audit.append("model_usage", {
      inputTokens: response.usage.input_tokens,
      outputTokens: response.usage.output_tokens,
      cacheReadTokens: response.usage.cache_read_input_tokens ?? 0,
      cacheWriteTokens: response.usage.cache_creation_input_tokens ?? 0,
      costUSD,
      stopReason: response.stop_reason,
    }),
  ];
  for (const block of response.content) {
    if (block.type === "text" && block.text.trim() !== "")
      written.push(audit.append("reasoning", { text: block.text }));
  }
  written.push(
    status.apply({
      type: "usage",
      usage: {
        inputTokens: c.inputTokens,
        outputTokens: c.outputTokens,
        cacheReadTokens: c.cacheReadTokens,
        cacheWriteTokens: c.cacheWriteTokens,
        estimatedCostUSD: costUSD,
      },
    }),
  );
  return Promise.all(written);
}

/** What the reply's stop reason asks for: its tool calls answered, a nudge, or the session's end. */
async function afterTurn(
  state: SessionState,
  ctx: SessionContext,
  response: Anthropic.Messages.Message,
): Promise<SessionOutcome | undefined> {
  const stop: string | null = response.stop_reason;
  switch (stop) {
    case "tool_use": {
      const toolUses = response.content
        .filter((b): b is Anthropic.Messages.ToolUseBlock => b.type === "tool_use")
        .map(({ id, name, input }) => ({ id, name, input }));
      state.pending = { toolUses, results: [], decisions: {} };
      // Not waited for: a call that reads runs while this is written. A change waits for it
      // (recordStart saves after it, and saves land in order); a crash before it is on disk
      // only repeats this turn, since nothing was changed.
      const saved = ctx.records.saveState(state);
      try {
        return await answerToolCalls(state, ctx);
      } finally {
        await saved;
      }
    }
    case "pause_turn":
      // The API paused a long turn; sending the conversation back as it is continues it.
      await ctx.records.saveState(state);
      return undefined;
    case "end_turn":
    case "stop_sequence":
      if (state.nudges >= 1)
        return escalate(state, ctx, "the model ended its turn twice without resolving or escalating");
      state.nudges += 1;
      state.messages.push({ role: "user", content: NUDGE });
      await ctx.records.saveState(state);
      return undefined;
    case "max_tokens":
      return escalate(state, ctx, `the model's reply was cut at max_tokens (${ctx.model.maxTokens})`);
    case "refusal":
      return escalate(state, ctx, "the model refused to continue (stop_reason refusal)");
    case "model_context_window_exceeded":
      return escalate(state, ctx, "the conversation exceeded the model's context window");
    default:
      return escalate(state, ctx, `unknown stop_reason ${JSON.stringify(stop)}; stopping to be safe`);
  }
}

/** Answers the pending tool calls in order; stops early to wait for a person or to finish. */
async function answerToolCalls(state: SessionState, ctx: SessionContext): Promise<SessionOutcome | undefined> {
  const pending = state.pending;
  if (!pending) return undefined;
  for (const use of pending.toolUses) {
    if (pending.results.some((r) => r.tool_use_id === use.id)) continue;
    const step = await answerOne(state, ctx, use);
    if (step.type === "outcome") return step.outcome;
    pending.results.push({
      type: "tool_result",
      tool_use_id: use.id,
      content: step.result.output,
      is_error: step.result.isError,
    });
    // The last result is saved with the conversation just below.
    if (use !== pending.toolUses.at(-1)) await ctx.records.saveState(state);
  }
  state.messages.push({ role: "user", content: pending.results });
  state.pending = undefined;
  await ctx.records.saveState(state);
  return undefined;
}

type Step = { type: "result"; result: ToolResult } | { type: "outcome"; outcome: SessionOutcome };

async function answerOne(state: SessionState, ctx: SessionContext, use: ToolUse): Promise<Step> {
  const overBudget = await countToolCall(state, ctx, use);
  if (overBudget) return overBudget;
  const call = parseCall(ctx.tools.toolset, use);
  if (typeof call === "string") return error(call);
  if (call.tool.name === "resolve") return verifyResolution(state, ctx, (call.input as { summary: string }).summary);
  if (call.tool.name === "escalate")
    return { type: "outcome", outcome: await escalate(state, ctx, (call.input as { reason: string }).reason) };
  return judgeAndRun(state, ctx, { use, ...call });
}

/** Counts a call the first time it is seen (a resumed session does not count it twice); escalates past the budget. */
async function countToolCall(state: SessionState, ctx: SessionContext, use: ToolUse): Promise<Step | undefined> {
  if (state.pending?.decisions[use.id] !== undefined) return undefined;
  const exceeded = exceededBudget(state.counters, ctx.rules.policy.budgets, Date.now(), {
    next: "toolCall",
    model: state.model,
    provider: ctx.model.provider,
  });
  if (exceeded) {
    const reason = `budget ${exceeded.budget} reached: ${exceeded.message}`;
    return { type: "outcome", outcome: await escalate(state, ctx, reason) };
  }
  state.counters.toolCalls += 1;
  await ctx.records.audit.append("tool_call", { id: use.id, tool: use.name, input: use.input });
  return undefined;
}

/** The policy's decision on a call, a person's where it asks, then the call itself. */
async function judgeAndRun(
  state: SessionState,
  ctx: SessionContext,
  call: { use: ToolUse; tool: ToolDefinition<unknown>; input: unknown },
): Promise<Step> {
  const { use, tool, input } = call;
  const argv = tool.argv(input);
  const mutating = tool.kind === "mutate" && (tool.name !== "shell" || classifyShell(argv).mutating);
  const decision = await judge(state, ctx, {
    use,
    tool: tool.name,
    argv,
    mutating,
    touches: tool.touches(input),
    reads: tool.reads?.(input) ?? [],
  });
  const action = { id: use.id, tool: tool.name, argv };
  if (decision.decision === "deny") {
    await recordAction(ctx, { ...action, decision: "deny" }, mutating);
    return error(`denied by policy: ${decision.reason}`);
  }
  let approver: string | undefined;
  if (decision.decision === "ask") {
    const gate = await approvalGate(state, ctx, { ...action, reason: decision.reason }, mutating);
    if (gate.type !== "approved") return gate;
    approver = gate.by;
  }
  const run = (signal: AbortSignal): Promise<ToolResult> => tool.run(input, ctx.tools.environment, signal);
  return execute(state, ctx, { use, tool: tool.name, argv, mutating, approver, run });
}

/** An `ask` call: run it if a person approved, tell the model if they denied, else wait. */
async function approvalGate(
  state: SessionState,
  ctx: SessionContext,
  action: { id: string; tool: string; argv: string[]; reason: string },
  mutating: boolean,
): Promise<Step | { type: "approved"; by: string }> {
  const approval = ctx.rules.approval(action.id);
  if (!approval) return { type: "outcome", outcome: await awaitApproval(state, ctx, action) };
  await ctx.records.audit.append(
    "approval",
    { id: action.id, approved: approval.approved, by: approval.by, reason: approval.reason },
    { sync: true },
  );
  if (approval.approved) return { type: "approved", by: approval.by };
  await recordAction(ctx, { ...action, decision: "deny", approver: approval.by }, mutating);
  return error(`denied by ${approval.by}${approval.reason ? `: ${approval.reason}` : ""}; do not retry this action`);
}

/** The tool and its validated input, or the error to send back to the model. */
function parseCall(toolset: Toolset, use: ToolUse): { tool: ToolDefinition<unknown>; input: unknown } | string {
  const tool = findTool(toolset, use.name);
  if (!tool) return `unknown tool ${JSON.stringify(use.name)}`;
  const parsed = tool.input.safeParse(use.input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(input)"}: ${i.message}`);
    return `invalid input for ${use.name}: ${problems.join("; ")}`;
  }
  return { tool, input: parsed.data };
}

/** The policy decision for a call, taken once and kept, so a resumed session does not re-judge. */
async function judge(
  state: SessionState,
  ctx: SessionContext,
  call: { use: ToolUse; tool: string; argv: string[]; mutating: boolean; touches: string[]; reads: string[] },
): Promise<PolicyDecision> {
  const known = state.pending?.decisions[call.use.id];
  if (known) return known;
  const { use, ...request } = call;
  const decision = await decideNow(ctx, request);
  if (state.pending) state.pending.decisions[use.id] = decision;
  await ctx.records.audit.append("policy_decision", {
    id: use.id,
    decision: decision.decision,
    reason: decision.reason,
    stage: decision.stage,
    rule: decision.rule?.command,
  });
  return decision;
}

/** decide() on the scope observed now, at the call, not when the session began; an unobservable target denies. */
async function decideNow(ctx: SessionContext, request: Parameters<typeof decide>[0]): Promise<PolicyDecision> {
  const { policy, mode } = ctx.rules;
  try {
    const scope = await ctx.tools.environment.scope(ctx.signal);
    return decide(request, policy, { mode, scope });
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    return { decision: "deny", reason: `cannot observe the target now: ${errorMessage(err)}`, stage: "target" };
  }
}

/** A call the policy (and, if it asked, a person) let through, ready to run. */
interface Execution {
  use: ToolUse;
  tool: string;
  argv: string[];
  mutating: boolean;
  approver: string | undefined;
  run(signal: AbortSignal): Promise<ToolResult>;
}

async function execute(state: SessionState, ctx: SessionContext, call: Execution): Promise<Step> {
  const action = {
    id: call.use.id,
    tool: call.tool,
    argv: call.argv,
    decision: call.approver ? "ask" : "allow",
    approver: call.approver,
  } as const;
  if (call.mutating) {
    const { maxMutations } = ctx.rules.policy.budgets;
    if (state.counters.mutations >= maxMutations) {
      return { type: "outcome", outcome: await escalate(state, ctx, `budget maxMutations reached (${maxMutations})`) };
    }
    state.counters.mutations += 1;
    await recordStart(state, ctx, action);
  }
  const { environment } = ctx.tools;
  let result: ToolResult;
  try {
    result = await call.run(AbortSignal.any([ctx.signal, AbortSignal.timeout(environment.timeoutMs)]));
  } catch (err) {
    // Shutdown in the middle of a change: its outcome is unknown. The `Started` record stays,
    // and the resumed session says so instead of recording a failure that may not be one.
    if (call.mutating && ctx.signal.aborted) throw err;
    result = { output: errorMessage(err), isError: true };
  }
  const wrapped = wrapUntrusted(call.argv.join(" "), result.output, environment.outputCapBytes, result.secrets);
  await ctx.records.audit.append(
    "tool_result",
    { id: call.use.id, isError: result.isError, exitCode: result.exitCode, output: wrapped },
    { sync: call.mutating },
  );
  if (call.mutating) {
    const exitCode = result.exitCode ?? (result.isError ? 1 : 0);
    await recordAction(ctx, { ...action, exitCode, state: "Finished" }, true);
    await changeStatus(ctx.records, {
      type: "phase",
      phase: "Investigating",
      message: "back to investigating after a change",
    });
  }
  return { type: "result", result: { ...result, output: wrapped } };
}

/**
 * The idempotency record of a change, made durable before it runs: the action in status as
 * `Started` (in the same store write as the phase), an fsynced `action` audit line, and the
 * conversation with its counters. A Steward that stops before the result is recorded leaves
 * `Started` behind, and the next run answers the call from it instead of running it again
 * (recovery.ts).
 */
async function recordStart(
  state: SessionState,
  ctx: SessionContext,
  action: { id: string; tool: string; argv: string[]; decision: "allow" | "ask"; approver?: string },
): Promise<void> {
  const message = `running ${action.argv.join(" ")}`;
  const record = actionRecord(ctx, { ...action, state: "Started" });
  await changeStatus(ctx.records, { type: "actionStarted", action: record, message });
  await ctx.records.audit.append(
    "action",
    { id: action.id, tool: action.tool, command: action.argv, state: "Started" },
    { sync: true },
  );
  await ctx.records.saveState(state);
}

async function verifyResolution(state: SessionState, ctx: SessionContext, summary: string): Promise<Step> {
  await changeStatus(ctx.records, { type: "phase", phase: "Verifying", message: "re-observing the original signals" });
  const verdict = await ctx.verify();
  await ctx.records.audit.append(
    "verification",
    { cleared: verdict.cleared, details: verdict.details, attempt: state.attempt },
    { sync: true },
  );
  const at = new Date().toISOString();
  await ctx.records.status.apply({ type: "verification", attempt: state.attempt, at, summary, ...verdict });
  if (verdict.cleared) return { type: "outcome", outcome: { type: "resolved", summary } };
  const { maxAttempts } = ctx.rules;
  if (state.attempt >= maxAttempts) {
    const reason = `the fix did not verify after ${state.attempt} attempts: ${verdict.details}`;
    return { type: "outcome", outcome: await escalate(state, ctx, reason) };
  }
  state.attempt += 1;
  const message = `attempt ${state.attempt}: the drift is still there`;
  await changeStatus(ctx.records, { type: "attemptStarted", attempt: state.attempt, at, message });
  return error(
    `Steward re-observed the system and the drift is NOT gone: ${verdict.details}. Investigate further (attempt ${state.attempt} of ${maxAttempts}).`,
  );
}

async function awaitApproval(
  state: SessionState,
  ctx: SessionContext,
  request: { id: string; tool: string; argv: string[]; reason: string },
): Promise<SessionOutcome> {
  const pending: PendingApproval = {
    id: request.id,
    tool: request.tool,
    command: request.argv,
    reason: request.reason,
    requestedAt: new Date().toISOString(),
  };
  await ctx.records.saveState(state);
  const message = `waiting for approval of ${request.argv.join(" ")}: steward approve <name> --id ${request.id}`;
  await changeStatus(ctx.records, { type: "awaitingApproval", pending, message });
  return { type: "awaitingApproval", pending: [pending] };
}

async function modelUnavailable(
  state: SessionState,
  ctx: SessionContext,
  err: unknown,
): Promise<ModelUnavailableError> {
  const unavailable = new ModelUnavailableError(err);
  await ctx.records.saveState(state);
  await ctx.records.audit.append(
    "session",
    { event: "model_unavailable", reason: unavailable.message },
    { sync: true },
  );
  return unavailable;
}

/** The session ends escalated; its runner writes the closing status (with the reason as summary). */
async function escalate(state: SessionState, ctx: SessionContext, reason: string): Promise<SessionOutcome> {
  await ctx.records.saveState(state);
  await ctx.records.audit.append("session", { event: "escalated", reason }, { sync: true });
  return { type: "escalated", reason };
}

/**
 * Applies a status change; a change of phase is also a `phase_change` audit line, written
 * after the status (`reason` defaults to the status message).
 */
export async function changeStatus(
  records: StatusRecords,
  change: RemediationStatusChange,
  audit: { reason?: string; sync?: boolean } = {},
): Promise<void> {
  const { status } = records;
  const from = status.current.phase;
  await status.apply(change);
  const { phase: to, message } = status.current;
  if (to === from) return;
  const reason = audit.reason ?? message ?? "";
  await records.audit.append("phase_change", { from, to, reason }, { sync: audit.sync === true });
}

interface ActionInput {
  id: string;
  tool: string;
  argv: string[];
  decision: "allow" | "ask" | "deny";
  approver?: string;
  exitCode?: number;
  state?: ActionRecord["state"];
}

async function recordAction(ctx: SessionContext, action: ActionInput, mutating: boolean): Promise<void> {
  if (!mutating) return;
  await ctx.records.status.apply({ type: "actionRecorded", action: actionRecord(ctx, action) });
}

function actionRecord(ctx: SessionContext, action: ActionInput): ActionRecord {
  return {
    id: action.id,
    tool: action.tool,
    command: action.argv,
    decision: action.decision,
    approver: action.approver,
    exitCode: action.exitCode,
    dryRun: ctx.rules.policy.dryRun || undefined,
    time: new Date().toISOString(),
    state: action.state,
  };
}

function error(output: string): Step {
  return { type: "result", result: { output, isError: true } };
}
