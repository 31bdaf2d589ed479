import { parseDuration } from "../api/duration.js";
import type { DesiredState } from "../api/desired-state.js";
import type { AgentRemediation, Usage } from "../api/remediation.js";
import type { StewardMetrics } from "../telemetry/metrics.js";
import { driftFingerprint } from "../reconcile/drift.js";
import type { KubernetesObserver } from "../observe/types.js";
import type { KubernetesActions } from "../act/types.js";
import { targetObserved, type SystemObserver } from "../reconcile/observation.js";
import { driftCleared, emptyRemediationStatus } from "../reconcile/remediations.js";
import type { RemediationStatusPort } from "../reconcile/remediation-status.js";
import { unsettledWorkloads } from "../reconcile/workload-drift.js";
import { AuditLog, verifyAuditFile } from "./audit.js";
import { approvalFor } from "../api/approvals.js";
import { handOver, sessionStart } from "./handover.js";
import { incidentMessage, systemPrompt } from "./prompt.js";
import { answerFromRecord, recoverActions } from "./recovery.js";
import type { SessionOutcome, SessionRunContext, SessionRunner } from "../reconcile/session-runner.js";
import {
  changeStatus,
  runSession,
  type MessagesClient,
  type SessionContext,
  type SessionState,
  type SessionStatus,
  type StatusRecords,
} from "./session.js";
import { newSessionId, type SessionFiles } from "./session-store.js";
import type { ProgramPaths } from "./programs.js";
import type { Reach } from "./ownership.js";
import { ScopeObserver } from "./scopes.js";
import type { DockerToolAccess, ToolEnvironment } from "./tools.js";
import { toolsetFor } from "./toolsets.js";
import { sanitizeForLog } from "../text/redact.js";
import { sleep } from "../resilience/deadline.js";
import { modelFor, type Provider } from "./providers.js";
import { loadRunbook, type Runbook, type RunbookSources } from "./runbook.js";

export interface AgentRunnerDeps {
  files: SessionFiles;
  client: MessagesClient;
  /** Where `client` reaches Claude (prices, and which of a policy's models applies). */
  provider: Provider;
  model: string;
  maxTokens: number;
  tools: {
    docker?: DockerToolAccess;
    kubernetes?: { observer: KubernetesObserver; actions: KubernetesActions };
    prometheus: ToolEnvironment["prometheus"];
  };
  /** The programs the shell tool may run, found when Steward started. */
  programs: ProgramPaths;
  observer: SystemObserver;
  /** How long verification waits for the signals to settle (a scrape, a health check). */
  verifyTimeoutMs: number;
  metrics: StewardMetrics;
  /** Where an alert's runbook_url may point (files, URL prefixes); absent: runbooks are not read. */
  runbooks?: RunbookSources;
}

const VERIFY_POLL_MS = 1_000;

/** The run's inputs besides its records: what the reconciler passed in. */
interface RunInput {
  remediation: AgentRemediation;
  desiredState: DesiredState;
  context: SessionRunContext;
}

/**
 * Runs (or resumes) the agent session of one remediation. The conversation and the audit
 * trail are files, so a restarted Steward resumes; the status is the remediation
 * controller's, changed through `context.status` (reconcile/remediation-status.ts), and
 * every change carries the audit trail's last line on disk, so truncation shows.
 */
export class AgentRunner implements SessionRunner {
  /** What each session owns and may read, observed at each call (ownership.ts). */
  private readonly scopes: ScopeObserver;

  constructor(private readonly deps: AgentRunnerDeps) {
    this.scopes = new ScopeObserver(deps.tools);
  }

  async run(
    remediation: AgentRemediation,
    desiredState: DesiredState,
    context: SessionRunContext,
  ): Promise<SessionOutcome> {
    const { namespace, name } = remediation.metadata;
    const usageBefore = context.status.current.usage;
    const startedAt = Date.now();
    // A crash can tear the last line (a write cut short); the repair is itself audited.
    const audit = await AuditLog.open(this.deps.files.auditPath(namespace, name), {
      sanitize: sanitizeForLog,
      repairTornTail: true,
    });
    let outcome: SessionOutcome;
    try {
      await this.verifyAudit(audit.path, context.logger);
      const records: RunRecords = { audit, status: anchoredStatus(context.status, audit) };
      const input = { remediation, desiredState, context };
      outcome = (await this.recoverActions(records)) ?? (await this.runConversation(input, records));
      await this.finish(outcome, records);
    } finally {
      await audit.close();
    }
    // close() fsynced the last line: the status records it as the audit trail's head.
    const head = audit.syncedHead;
    if (head) await context.status.apply({ type: "auditHead", head });
    this.countUsage(usageBefore, context.status.current.usage, outcome);
    this.deps.metrics.agentSessionDuration.observe({ outcome: outcome.type }, (Date.now() - startedAt) / 1000);
    context.logger.info("agent session finished", { remediation: name, outcome: outcome.type });
    return outcome;
  }

  /**
   * The trail this session continues must still verify (an edited line, lines out of order
   * or missing): a break is counted (steward_audit_verify_failures_total, an alert) and
   * logged, and the session goes on. Checked after open(), which cuts a torn last line (a
   * crash mid-write) and audits that, so a crash is not taken for tampering. Not against
   * status.auditHead: that may be another replica's trail.
   */
  private async verifyAudit(path: string, logger: SessionRunContext["logger"]): Promise<void> {
    const result = await verifyAuditFile(path);
    if (result.ok) return;
    this.deps.metrics.auditVerifyFailures.inc();
    logger.error("the audit trail does not verify; run steward audit verify", {
      path,
      line: result.line,
      reason: result.reason,
    });
  }

  /**
   * Changes a stopped Steward left `Started` become `Unknown` (never re-run); too many of
   * them stop the remediation. Returns the outcome when it must stop (recovery.ts).
   */
  private async recoverActions(records: RunRecords): Promise<SessionOutcome | undefined> {
    const { audit, status } = records;
    const recovery = recoverActions(status.current);
    if (!recovery.change) return undefined;
    for (const a of recovery.unknown) {
      const reason = "Steward stopped while it ran, before its outcome was recorded; it is not run again";
      await audit.append("action", { id: a.id, tool: a.tool, command: a.command, state: "Unknown", reason });
    }
    await audit.append(
      "phase_change",
      { from: status.current.phase, to: recovery.status.phase, reason: recovery.status.message ?? "" },
      { sync: true },
    );
    await status.apply(recovery.change);
    return recovery.interrupt === undefined ? undefined : { type: "interrupted", reason: recovery.interrupt };
  }

  /** Starts, resumes or takes over the conversation and runs it until it ends or waits. */
  private async runConversation(input: RunInput, records: RunRecords): Promise<SessionOutcome> {
    // The remediation as it is now (recovery may have changed its status).
    const current = { ...input, remediation: { ...input.remediation, status: records.status.current } };
    const state = await this.sessionFor(current, records);
    return runSession(state, this.context(current, records));
  }

  /** Adds what this run spent (the usage in status grew from `before` to `after`) to /metrics. */
  private countUsage(before: Usage | undefined, after: Usage | undefined, outcome: SessionOutcome): void {
    const { metrics } = this.deps;
    metrics.agentSessions.inc({ outcome: outcome.type });
    if (!after) return;
    const delta = (key: keyof Usage): number => Math.max(0, after[key] - (before?.[key] ?? 0));
    metrics.agentTokens.inc({ type: "input" }, delta("inputTokens"));
    metrics.agentTokens.inc({ type: "output" }, delta("outputTokens"));
    metrics.agentTokens.inc({ type: "cache_read" }, delta("cacheReadTokens"));
    metrics.agentTokens.inc({ type: "cache_write" }, delta("cacheWriteTokens"));
    metrics.agentCostUSD.inc(delta("estimatedCostUSD"));
  }

  /** The saved conversation, a new one, or a handover from another replica (see handover.ts). */
  private async sessionFor(input: RunInput, records: RunRecords): Promise<SessionState> {
    const { remediation, desiredState, context } = input;
    const { namespace, name } = remediation.metadata;
    const { policy } = context;
    const start = sessionStart(remediation, await this.deps.files.load(namespace, name));
    if (start.type === "resume") return this.resume(remediation, start.state, records.audit);
    if (start.type === "begin") {
      const { runbooks } = this.deps;
      const runbook = runbooks ? await loadRunbook(remediation, runbooks, context.signal) : undefined;
      return this.begin(input, records, runbook);
    }
    context.logger.warn("continuing an agent session whose conversation is on another replica", {
      remediation: name,
      phase: remediation.status?.phase,
      sessionId: remediation.status?.sessionId,
    });
    const handover = {
      model: modelFor(policy, this.deps.provider, this.deps.model),
      outputCap: policy.budgets.outputCap,
      now: new Date(),
    };
    return handOver(remediation, desiredState, handover, {
      ...records,
      saveState: (state) => this.deps.files.save(namespace, name, state),
    });
  }

  /**
   * A saved conversation whose pending calls may have been decided or run before Steward
   * stopped: those are answered from their records (recovery.ts), never run again.
   */
  private async resume(remediation: AgentRemediation, state: SessionState, audit: AuditLog): Promise<SessionState> {
    const status = remediation.status ?? emptyRemediationStatus();
    await audit.append("session", {
      event: "resumed",
      sessionId: state.sessionId,
      attempt: state.attempt,
      reason: `from phase ${status.phase}`,
    });
    const answered = answerFromRecord(state, status.actions);
    if (answered.length === 0) return state;
    for (const r of answered) {
      await audit.append("tool_result", {
        id: r.tool_use_id,
        isError: r.is_error === true,
        output: typeof r.content === "string" ? r.content : "",
      });
    }
    await this.deps.files.save(remediation.metadata.namespace, remediation.metadata.name, state);
    return state;
  }

  /** A new conversation: the incident (and the alert's runbook, if any) as the first message. */
  private async begin(input: RunInput, records: RunRecords, runbook: Runbook | undefined): Promise<SessionState> {
    const { remediation, desiredState, context } = input;
    const { policy } = context;
    const now = new Date();
    const model = modelFor(policy, this.deps.provider, this.deps.model);
    const incident = incidentMessage(desiredState, remediation, policy.budgets.outputCap, runbook);
    const state: SessionState = {
      sessionId: newSessionId(now),
      model,
      attempt: 1,
      messages: [{ role: "user", content: incident }],
      counters: {
        turns: 0,
        toolCalls: 0,
        mutations: 0,
        inputTokens: 0,
        outputTokens: 0,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
        startedAtMs: now.getTime(),
      },
      nudges: 0,
    };
    await records.audit.append("session", {
      event: "started",
      sessionId: state.sessionId,
      model,
      mode: remediation.spec.mode,
      attempt: 1,
    });
    await changeStatus(
      records,
      {
        type: "sessionStarted",
        sessionId: state.sessionId,
        message: `agent session ${state.sessionId} (model ${model}) is investigating`,
        at: now.toISOString(),
      },
      { reason: "agent session started" },
    );
    await this.deps.files.save(remediation.metadata.namespace, remediation.metadata.name, state);
    return state;
  }

  private context(input: RunInput, records: RunRecords): SessionContext {
    const { remediation, desiredState, context } = input;
    const { namespace, name } = remediation.metadata;
    const { policy, signal } = context;
    const pendingAtStart = new Set((remediation.status?.pendingApproval ?? []).map((p) => p.id));
    return {
      model: {
        client: this.deps.client,
        provider: this.deps.provider,
        system: systemPrompt(policy, desiredState.spec.target.kubernetes ? "kubernetes" : "docker"),
        maxTokens: this.deps.maxTokens,
      },
      rules: {
        policy,
        mode: remediation.spec.mode,
        maxAttempts: remediation.spec.maxAttempts,
        // Only calls a person could see as pending when deciding: an "approve all" is not a
        // blank cheque for calls the model makes afterwards.
        approval: (id) => (pendingAtStart.has(id) ? approvalFor(remediation, id) : undefined),
      },
      tools: {
        toolset: toolsetFor(desiredState.spec.target),
        environment: {
          ...this.toolAccess(desiredState),
          timeoutMs: parseDuration(policy.budgets.toolTimeout) ?? 30_000,
          outputCapBytes: policy.budgets.outputCap,
          dryRun: policy.dryRun,
          scope: (signal) => this.scopes.scopeOf(desiredState, policy, { reach: reachOf(remediation), signal }),
          programs: this.deps.programs,
        },
      },
      records: { ...records, saveState: (state) => this.deps.files.save(namespace, name, state) },
      signal,
      verify: () => this.verify(remediation, desiredState, signal),
    };
  }

  /** The tools reach Docker, or the target's namespace only. */
  private toolAccess(desiredState: DesiredState): Pick<ToolEnvironment, "docker" | "kubernetes" | "prometheus"> {
    const { docker, kubernetes, prometheus } = this.deps.tools;
    const namespace = desiredState.spec.target.kubernetes?.namespace;
    if (namespace === undefined) return { docker, prometheus };
    if (!kubernetes) return { prometheus };
    return {
      prometheus,
      kubernetes: { namespace, actions: kubernetes.actions, view: () => this.namespaceView(namespace) },
    };
  }

  private namespaceView(namespace: string): ReturnType<NonNullable<ToolEnvironment["kubernetes"]>["view"]> {
    const view = this.deps.tools.kubernetes?.observer.namespace(namespace);
    return view?.synced ? view : undefined;
  }

  /** Re-observes until the remediation's drift is gone or the settle time runs out. */
  private async verify(
    remediation: AgentRemediation,
    desiredState: DesiredState,
    signal: AbortSignal,
  ): Promise<{ cleared: boolean; details: string }> {
    const deadline = Date.now() + this.deps.verifyTimeoutMs;
    const status = desiredState.status ?? { conditions: [], drift: [], invariants: [], fixes: [] };
    for (;;) {
      const { drift, observation } = await this.deps.observer.drift(
        desiredState,
        { ...status, invariants: [] },
        new Date(),
        signal,
      );
      const unsettled = observation.workloads
        ? unsettledWorkloads(desiredState.spec.services, observation.workloads)
        : [];
      const cleared = driftCleared(remediation, {
        desiredState: desiredState.metadata.name,
        currentDrift: drift,
        invariants: observation.invariants,
        targetObserved: targetObserved(observation),
        unsettledWorkloads: unsettled,
        alertResolved: await this.deps.observer.freshAlertResolution(remediation.spec.drift, signal),
      });
      if (cleared) return { cleared: true, details: "the drift that opened this incident is gone" };
      if (Date.now() >= deadline) {
        const own = new Set(remediation.spec.drift.map((d) => driftFingerprint(desiredState.metadata.name, d)));
        const still = drift.filter((d) => own.has(driftFingerprint(desiredState.metadata.name, d)));
        const unknown = observation.invariants
          .filter((i) => i.state !== "Holding")
          .map((i) => `invariant ${i.name} is ${i.state}${i.reason ? ` (${i.reason})` : ""}`);
        const rollingOut = remediation.spec.drift.some((d) => d.type === "PodCrashLooping")
          ? unsettled.map((w) => `still rolling out: ${w}`)
          : [];
        const details =
          [
            ...still.map((d) => `${d.subject}: expected ${d.expected}, observed ${d.observed}`),
            ...unknown,
            ...rollingOut,
          ].join("; ") || "the signals could not be observed";
        return { cleared: false, details };
      }
      await sleep(VERIFY_POLL_MS, signal);
      // Shutdown during verification: it runs again when the session resumes.
      signal.throwIfAborted();
    }
  }

  /** Writes how the session ended (not while it waits for a person), then audits it. */
  private async finish(outcome: SessionOutcome, records: RunRecords): Promise<void> {
    if (outcome.type === "awaitingApproval") return;
    const reason = outcome.type === "resolved" ? "verified" : outcome.reason;
    const change = { type: "sessionEnded", end: outcome, at: new Date().toISOString() } as const;
    await changeStatus(records, change, { reason, sync: true });
  }
}

/** The audit trail and the session's view of the status. */
type RunRecords = StatusRecords;

/** The session's status port: each change also records the audit trail's last line on disk. */
function anchoredStatus(port: RemediationStatusPort, audit: AuditLog): SessionStatus {
  return {
    get current() {
      return port.current;
    },
    apply: (change) => port.apply(change, audit.syncedHead),
  };
}

/** An alert names no service: a remediation one opened reaches the DesiredState's whole target (ownership.ts). */
function reachOf(remediation: AgentRemediation): Reach {
  return remediation.spec.drift.some((d) => d.type === "AlertFiring") ? "target" : "services";
}
