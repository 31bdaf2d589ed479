import type Anthropic from "@anthropic-ai/sdk";
import type { Approval } from "../api/approvals.js";
import type { AgentMode } from "../api/desired-state.js";
import type { RemediationPolicySpec } from "../api/policy.js";
import type { ActionRecord, PendingApproval, RemediationPhase, RemediationStatus } from "../api/remediation.js";
import { errorMessage } from "../errors.js";
import type { AuditLog } from "./audit.js";
import { estimateCostUSD, exceededBudget, type SessionCounters } from "./budgets.js";
import type { Provider } from "./providers.js";
import { ModelUnavailableError, type SessionOutcome } from "../reconcile/session-runner.js";
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

export interface SessionContext {
  client: MessagesClient;
  /** Where the client reaches Claude: whose prices the cost budget uses. */
  provider: Provider;
  system: string;
  maxTokens: number;
  policy: RemediationPolicySpec;
  mode: AgentMode;
  /** The DesiredState's own containers or workloads and pods: the only objects a mutation may touch. */
  ownObjects: ReadonlySet<string>;
  toolset: Toolset;
  tools: ToolEnvironment;
  audit: AuditLog;
  maxAttempts: number;
  signal: AbortSignal;
  /** Re-observes the remediation's original signals. */
  verify(): Promise<{ cleared: boolean; details: string }>;
  /** Decisions people took on pending calls, by tool-use id or "all". */
  approval(id: string): Approval | undefined;
  saveState(state: SessionState): Promise<void>;
  updateStatus(change: (status: RemediationStatus) => RemediationStatus): Promise<void>;
}

const NUDGE =
  "You ended your turn without calling resolve or escalate. Call resolve if the drift is fixed, or escalate if you cannot fix it.";

/**
 * The hand-written tool-use loop. Each turn: check budgets, call the model, audit what it
 * said, then answer its tool calls one by one through the policy engine. It returns when
 * the incident is resolved (verified), escalated, or waits for a person.
 */
export async function runSession(state: SessionState, ctx: SessionContext): Promise<SessionOutcome> {
  for (;;) {
    if (state.pending) {
      const outcome = await answerToolCalls(state, ctx);
      if (outcome) return outcome;
    }
    const exceeded = exceededBudget(state.counters, ctx.policy.budgets, Date.now(), {
      next: "turn",
      model: state.model,
      provider: ctx.provider,
    });
    if (exceeded) return escalate(state, ctx, `budget ${exceeded.budget} reached: ${exceeded.message}`);
    let response: Anthropic.Messages.Message;
    try {
      response = await ctx.client.messages.create(
        {
          model: state.model,
          max_tokens: ctx.maxTokens,
          system: [{ type: "text", text: ctx.system, cache_control: { type: "ephemeral" } }],
          tools: toolParams(ctx.toolset),
          messages: state.messages,
        },
        { signal: ctx.signal },
      );
    } catch (err) {
      // Shutdown is not a failure: the state is saved, and the session resumes after restart.
      if (ctx.signal.aborted) throw err;
      // An outage is not this incident's failure: the state is saved, and the session goes on when the API answers.
      if (isTransientApiError(err)) throw await modelUnavailable(state, ctx, err);
      return escalate(state, ctx, `the Messages API call failed: ${errorMessage(err)}`);
    }
    await recordTurn(state, ctx, response);
    const outcome = await afterTurn(state, ctx, response);
    if (outcome) return outcome;
  }
}

async function recordTurn(
  state: SessionState,
  ctx: SessionContext,
  response: Anthropic.Messages.Message,
): Promise<void> {
  const c = state.counters;
  c.turns += 1;
  c.inputTokens += response.usage.input_tokens;
  c.outputTokens += response.usage.output_tokens;
  c.cacheReadTokens += response.usage.cache_read_input_tokens ?? 0;
  c.cacheWriteTokens += response.usage.cache_creation_input_tokens ?? 0;
  const costUSD = estimateCostUSD(state.model, c, ctx.provider);
  await ctx.audit.append("model_usage", {
    inputTokens: response.usage.input_tokens,
    outputTokens: response.usage.output_tokens,
    cacheReadTokens: response.usage.cache_read_input_tokens ?? 0,
    cacheWriteTokens: response.usage.cache_creation_input_tokens ?? 0,
    costUSD,
    stopReason: response.stop_reason,
  });
  for (const block of response.content) {
    if (block.type === "text" && block.text.trim() !== "") await ctx.audit.append("reasoning", { text: block.text });
  }
  state.messages.push({ role: "assistant", content: response.content });
  await ctx.updateStatus((s) => ({
    ...s,
    usage: {
      inputTokens: c.inputTokens,
      outputTokens: c.outputTokens,
      cacheReadTokens: c.cacheReadTokens,
      cacheWriteTokens: c.cacheWriteTokens,
      estimatedCostUSD: costUSD,
    },
  }));
}

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
      await ctx.saveState(state);
      return undefined;
    }
    case "pause_turn":
      // The API paused a long turn; sending the conversation back as it is continues it.
      await ctx.saveState(state);
      return undefined;
    case "end_turn":
    case "stop_sequence":
      if (state.nudges >= 1)
        return escalate(state, ctx, "the model ended its turn twice without resolving or escalating");
      state.nudges += 1;
      state.messages.push({ role: "user", content: NUDGE });
      await ctx.saveState(state);
      return undefined;
    case "max_tokens":
      return escalate(state, ctx, `the model's reply was cut at max_tokens (${ctx.maxTokens})`);
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
    await ctx.saveState(state);
  }
  state.messages.push({ role: "user", content: pending.results });
  state.pending = undefined;
  await ctx.saveState(state);
  return undefined;
}

type Step = { type: "result"; result: ToolResult } | { type: "outcome"; outcome: SessionOutcome };

async function answerOne(state: SessionState, ctx: SessionContext, use: ToolUse): Promise<Step> {
  const overBudget = await countToolCall(state, ctx, use);
  if (overBudget) return overBudget;
  const call = parseCall(ctx.toolset, use);
  if (typeof call === "string") return error(call);
  if (call.tool.name === "resolve") return verifyResolution(state, ctx, (call.input as { summary: string }).summary);
  if (call.tool.name === "escalate")
    return { type: "outcome", outcome: await escalate(state, ctx, (call.input as { reason: string }).reason) };
  return judgeAndRun(state, ctx, { use, ...call });
}

/** Counts a call the first time it is seen (a resumed session does not count it twice); escalates past the budget. */
async function countToolCall(state: SessionState, ctx: SessionContext, use: ToolUse): Promise<Step | undefined> {
  if (state.pending?.decisions[use.id] !== undefined) return undefined;
  const exceeded = exceededBudget(state.counters, ctx.policy.budgets, Date.now(), {
    next: "toolCall",
    model: state.model,
    provider: ctx.provider,
  });
  if (exceeded) {
    const reason = `budget ${exceeded.budget} reached: ${exceeded.message}`;
    return { type: "outcome", outcome: await escalate(state, ctx, reason) };
  }
  state.counters.toolCalls += 1;
  await ctx.audit.append("tool_call", { id: use.id, tool: use.name, input: use.input });
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
  const decision = await judge(state, ctx, { use, tool: tool.name, argv, mutating, touches: tool.touches(input) });
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
  const run = (signal: AbortSignal): Promise<ToolResult> => tool.run(input, ctx.tools, signal);
  return execute(state, ctx, { use, tool: tool.name, argv, mutating, approver, run });
}

/** An `ask` call: run it if a person approved, tell the model if they denied, else wait. */
async function approvalGate(
  state: SessionState,
  ctx: SessionContext,
  action: { id: string; tool: string; argv: string[]; reason: string },
  mutating: boolean,
): Promise<Step | { type: "approved"; by: string }> {
  const approval = ctx.approval(action.id);
  if (!approval) return { type: "outcome", outcome: await awaitApproval(state, ctx, action) };
  await ctx.audit.append(
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
    return `invalid input for ${use.name}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(input)"}: ${i.message}`).join("; ")}`;
  }
  return { tool, input: parsed.data };
}

/** The policy decision for a call, taken once and kept, so a resumed session does not re-judge. */
async function judge(
  state: SessionState,
  ctx: SessionContext,
  call: { use: ToolUse; tool: string; argv: string[]; mutating: boolean; touches: string[] },
): Promise<PolicyDecision> {
  const known = state.pending?.decisions[call.use.id];
  if (known) return known;
  const decision = decide(
    { tool: call.tool, argv: call.argv, mutating: call.mutating, touches: call.touches },
    ctx.policy,
    {
      mode: ctx.mode,
      ownObjects: ctx.ownObjects,
    },
  );
  if (state.pending) state.pending.decisions[call.use.id] = decision;
  await ctx.audit.append("policy_decision", {
    id: call.use.id,
    decision: decision.decision,
    reason: decision.reason,
    stage: decision.stage,
    rule: decision.rule?.command,
  });
  return decision;
}

interface Execution {
  use: ToolUse;
  tool: string;
  argv: string[];
  mutating: boolean;
  approver: string | undefined;
  run(signal: AbortSignal): Promise<ToolResult>;
}

async function execute(state: SessionState, ctx: SessionContext, x: Execution): Promise<Step> {
  const action = {
    id: x.use.id,
    tool: x.tool,
    argv: x.argv,
    decision: x.approver ? "ask" : "allow",
    approver: x.approver,
  } as const;
  if (x.mutating) {
    if (state.counters.mutations >= ctx.policy.budgets.maxMutations) {
      return {
        type: "outcome",
        outcome: await escalate(state, ctx, `budget maxMutations reached (${ctx.policy.budgets.maxMutations})`),
      };
    }
    state.counters.mutations += 1;
    await recordStart(state, ctx, action);
  }
  let result: ToolResult;
  try {
    result = await x.run(AbortSignal.any([ctx.signal, AbortSignal.timeout(ctx.tools.timeoutMs)]));
  } catch (err) {
    // Shutdown in the middle of a change: its outcome is unknown. The `Started` record stays,
    // and the resumed session says so instead of recording a failure that may not be one.
    if (x.mutating && ctx.signal.aborted) throw err;
    result = { output: errorMessage(err), isError: true };
  }
  const wrapped = wrapUntrusted(x.argv.join(" "), result.output, ctx.tools.outputCapBytes, result.secrets);
  await ctx.audit.append(
    "tool_result",
    { id: x.use.id, isError: result.isError, exitCode: result.exitCode, output: wrapped },
    { sync: x.mutating },
  );
  if (x.mutating) {
    await recordAction(
      ctx,
      { ...action, exitCode: result.exitCode ?? (result.isError ? 1 : 0), state: "Finished" },
      true,
    );
    await setPhase(ctx, "Investigating", "back to investigating after a change");
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
  let from = "Pending" as RemediationPhase;
  const reason = `running ${action.argv.join(" ")}`;
  await ctx.updateStatus((s) => {
    from = s.phase;
    return {
      ...s,
      phase: "Remediating",
      message: reason,
      pendingApproval: [],
      actions: withAction(s.actions, actionRecord(ctx, { ...action, state: "Started" })),
    };
  });
  if (from !== "Remediating") await ctx.audit.append("phase_change", { from, to: "Remediating", reason });
  await ctx.audit.append(
    "action",
    { id: action.id, tool: action.tool, command: action.argv, state: "Started" },
    { sync: true },
  );
  await ctx.saveState(state);
}

async function verifyResolution(state: SessionState, ctx: SessionContext, summary: string): Promise<Step> {
  await setPhase(ctx, "Verifying", "re-observing the original signals");
  const verdict = await ctx.verify();
  await ctx.audit.append(
    "verification",
    { cleared: verdict.cleared, details: verdict.details, attempt: state.attempt },
    { sync: true },
  );
  const finished = new Date().toISOString();
  await ctx.updateStatus((s) => ({
    ...s,
    attempts: s.attempts.map((a) =>
      a.number === state.attempt
        ? { ...a, finishedAt: finished, outcome: verdict.cleared ? "Verified" : `NotVerified: ${verdict.details}` }
        : a,
    ),
  }));
  if (verdict.cleared) {
    await ctx.updateStatus((s) => ({ ...s, summary, verifiedAt: finished }));
    return { type: "outcome", outcome: { type: "resolved", summary } };
  }
  if (state.attempt >= ctx.maxAttempts) {
    return {
      type: "outcome",
      outcome: await escalate(state, ctx, `the fix did not verify after ${state.attempt} attempts: ${verdict.details}`),
    };
  }
  state.attempt += 1;
  // Idempotent: a session resumed after a crash here may record the same attempt again.
  await ctx.updateStatus((s) => ({
    ...s,
    attempts: [...s.attempts.filter((a) => a.number !== state.attempt), { number: state.attempt, startedAt: finished }],
  }));
  await setPhase(ctx, "Investigating", `attempt ${state.attempt}: the drift is still there`);
  return error(
    `Steward re-observed the system and the drift is NOT gone: ${verdict.details}. Investigate further (attempt ${state.attempt} of ${ctx.maxAttempts}).`,
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
  await ctx.saveState(state);
  await ctx.updateStatus((s) => ({ ...s, pendingApproval: [pending] }));
  await setPhase(
    ctx,
    "AwaitingApproval",
    `waiting for approval of ${request.argv.join(" ")}: steward approve <name> --id ${request.id}`,
  );
  return { type: "awaitingApproval", pending: [pending] };
}

async function modelUnavailable(
  state: SessionState,
  ctx: SessionContext,
  err: unknown,
): Promise<ModelUnavailableError> {
  const unavailable = new ModelUnavailableError(err);
  await ctx.saveState(state);
  await ctx.audit.append("session", { event: "model_unavailable", reason: unavailable.message }, { sync: true });
  return unavailable;
}

async function escalate(state: SessionState, ctx: SessionContext, reason: string): Promise<SessionOutcome> {
  await ctx.saveState(state);
  await ctx.audit.append("session", { event: "escalated", reason }, { sync: true });
  await ctx.updateStatus((s) => ({ ...s, summary: s.summary ?? reason }));
  return { type: "escalated", reason };
}

async function setPhase(ctx: SessionContext, phase: RemediationPhase, reason: string): Promise<void> {
  let from: RemediationPhase = "Pending";
  await ctx.updateStatus((s) => {
    from = s.phase;
    return s.phase === phase
      ? s
      : { ...s, phase, message: reason, pendingApproval: phase === "AwaitingApproval" ? s.pendingApproval : [] };
  });
  if (from !== phase) await ctx.audit.append("phase_change", { from, to: phase, reason });
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
  await ctx.updateStatus((s) => ({ ...s, actions: withAction(s.actions, actionRecord(ctx, action)) }));
}

function actionRecord(ctx: SessionContext, action: ActionInput): ActionRecord {
  return {
    id: action.id,
    tool: action.tool,
    command: action.argv,
    decision: action.decision,
    approver: action.approver,
    exitCode: action.exitCode,
    dryRun: ctx.policy.dryRun || undefined,
    time: new Date().toISOString(),
    state: action.state,
  };
}

/** One record per call: a later record of the same call (its result) replaces the earlier one. */
function withAction(actions: readonly ActionRecord[], record: ActionRecord): ActionRecord[] {
  return [...actions.filter((a) => a.id !== record.id), record];
}

function error(output: string): Step {
  return { type: "result", result: { output, isError: true } };
}
