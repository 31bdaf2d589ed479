import { parseDuration } from "../api/duration.js";
import type { DesiredState } from "../api/desired-state.js";
import type { RemediationPolicySpec } from "../api/policy.js";
import type { ActionRecord, AgentRemediation, RemediationPhase, RemediationStatus, Usage } from "../api/remediation.js";
import type { StewardMetrics } from "../telemetry/metrics.js";
import type { EventRecorder, StewardEvent } from "../store/events.js";
import type { Logger } from "../telemetry/logging.js";
import { containersOfService, driftFingerprint } from "../reconcile/drift.js";
import type { KubernetesObserver } from "../observe/types.js";
import type { KubernetesActions } from "../act/types.js";
import { targetObserved, type SystemObserver } from "../reconcile/observation.js";
import { driftCleared, emptyRemediationStatus } from "../reconcile/remediations.js";
import { inDockerTarget } from "../reconcile/target.js";
import {
  inKubernetesTarget,
  podsOf,
  workloadOfService,
  workloadSubject,
  type WorkloadObservation,
} from "../reconcile/workload-drift.js";
import type { Store } from "../store/store.js";
import { AuditLog } from "./audit.js";
import { approvalFor } from "../api/approvals.js";
import { handOver, sessionStart } from "./handover.js";
import { incidentMessage, systemPrompt } from "./prompt.js";
import { answerFromRecord, recoverActions } from "./recovery.js";
import type { SessionOutcome, SessionRunContext, SessionRunner } from "../reconcile/session-runner.js";
import { runSession, type MessagesClient, type SessionContext, type SessionState } from "./session.js";
import { newSessionId, type SessionFiles } from "./session-store.js";
import type { DockerToolAccess, ToolEnvironment } from "./tools.js";
import { toolsetFor } from "./toolsets.js";
import { modelFor, type Provider } from "./providers.js";
import { loadRunbook, type Runbook, type RunbookSources } from "./runbook.js";
import { sanitizeForLog } from "../text/redact.js";

export interface AgentRunnerDeps {
  store: Store;
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
  observer: SystemObserver;
  /** How long verification waits for the signals to settle (a scrape, a health check). */
  verifyTimeoutMs: number;
  metrics: StewardMetrics;
  events?: EventRecorder;
  /** Where an alert's runbook_url may point (files, URL prefixes); absent: runbooks are not read. */
  runbooks?: RunbookSources;
}

const VERIFY_POLL_MS = 1_000;

/**
 * Runs (or resumes) the agent session of one remediation and records the outcome in its
 * status. The conversation and the audit trail are files, so a restarted Steward resumes.
 */
export class AgentRunner implements SessionRunner {
  constructor(private readonly deps: AgentRunnerDeps) {}

  async run(
    remediation: AgentRemediation,
    desiredState: DesiredState,
    context: SessionRunContext,
  ): Promise<SessionOutcome> {
    const { namespace, name } = remediation.metadata;
    // A crash can tear the last line (a write cut short); the repair is itself audited.
    const audit = await AuditLog.open(this.deps.files.auditPath(namespace, name), {
      sanitize: sanitizeForLog,
      repairTornTail: true,
    });
    try {
      let status = remediation.status ?? emptyRemediationStatus();
      const updateStatus = async (change: (s: RemediationStatus) => RemediationStatus): Promise<void> => {
        const before = status;
        status = change(status);
        await this.deps.store.updateStatus("AgentRemediation", remediation.metadata, status);
        this.recordSteps(remediation, before, status);
      };
      const interrupted = await this.recoverActions(status, { audit, updateStatus });
      const outcome =
        interrupted ??
        (await this.runConversation({ ...remediation, status }, desiredState, context, { audit, updateStatus }));
      await this.finish(outcome, { audit, updateStatus, getStatus: () => status });
      this.countUsage(remediation.status?.usage, status.usage, outcome);
      context.logger.info("agent session finished", { remediation: name, outcome: outcome.type });
      return outcome;
    } finally {
      await audit.close();
    }
  }

  /**
   * Changes a stopped Steward left `Started` become `Unknown` (never re-run); too many of
   * them stop the remediation. Returns the outcome when it must stop (recovery.ts).
   */
  private async recoverActions(
    status: RemediationStatus,
    io: { audit: AuditLog; updateStatus: SessionContext["updateStatus"] },
  ): Promise<SessionOutcome | undefined> {
    const recovery = recoverActions(status);
    if (recovery.unknown.length === 0) return undefined;
    for (const a of recovery.unknown) {
      const reason = "Steward stopped while it ran, before its outcome was recorded; it is not run again";
      await io.audit.append("action", { id: a.id, tool: a.tool, command: a.command, state: "Unknown", reason });
    }
    await io.audit.append(
      "phase_change",
      { from: status.phase, to: recovery.status.phase, reason: recovery.status.message ?? "" },
      { sync: true },
    );
    await io.updateStatus(() => recovery.status);
    return recovery.interrupt === undefined ? undefined : { type: "interrupted", reason: recovery.interrupt };
  }

  /** Starts, resumes or takes over the conversation and runs it until it ends or waits. */
  private async runConversation(
    remediation: AgentRemediation,
    desiredState: DesiredState,
    context: { policy: RemediationPolicySpec; signal: AbortSignal; logger: Logger },
    io: { audit: AuditLog; updateStatus: SessionContext["updateStatus"] },
  ): Promise<SessionOutcome> {
    const state = await this.sessionFor(remediation, desiredState, context, io);
    const ctx = this.context(remediation, desiredState, { ...context, ...io, state });
    return runSession(state, ctx);
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
  private async sessionFor(
    remediation: AgentRemediation,
    desiredState: DesiredState,
    context: { policy: RemediationPolicySpec; signal: AbortSignal; logger: Logger },
    io: { audit: AuditLog; updateStatus: SessionContext["updateStatus"] },
  ): Promise<SessionState> {
    const { namespace, name } = remediation.metadata;
    const { policy } = context;
    const start = sessionStart(remediation, await this.deps.files.load(namespace, name));
    if (start.type === "resume") return this.resume(remediation, start.state, io.audit);
    if (start.type === "begin") {
      const { runbooks } = this.deps;
      const runbook = runbooks ? await loadRunbook(remediation, runbooks, context.signal) : undefined;
      return this.begin(remediation, desiredState, { policy, runbook }, io);
    }
    context.logger.warn("continuing an agent session whose conversation is on another replica", {
      remediation: name,
      phase: remediation.status?.phase,
      sessionId: remediation.status?.sessionId,
    });
    const input = {
      model: modelFor(policy, this.deps.provider, this.deps.model),
      outputCap: policy.budgets.outputCap,
      now: new Date(),
    };
    return handOver(remediation, desiredState, input, {
      ...io,
      save: (state) => this.deps.files.save(namespace, name, state),
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

  private async begin(
    remediation: AgentRemediation,
    desiredState: DesiredState,
    { policy, runbook }: { policy: RemediationPolicySpec; runbook: Runbook | undefined },
    io: { audit: AuditLog; updateStatus: SessionContext["updateStatus"] },
  ): Promise<SessionState> {
    const now = new Date();
    const model = modelFor(policy, this.deps.provider, this.deps.model);
    const state: SessionState = {
      sessionId: newSessionId(now),
      model,
      attempt: 1,
      messages: [
        { role: "user", content: incidentMessage(desiredState, remediation, policy.budgets.outputCap, runbook) },
      ],
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
    await io.audit.append("session", {
      event: "started",
      sessionId: state.sessionId,
      model,
      mode: remediation.spec.mode,
      attempt: 1,
    });
    await io.updateStatus((s) => ({
      ...s,
      sessionId: state.sessionId,
      phase: "Investigating",
      reason: "AgentInvestigating",
      message: `agent session ${state.sessionId} (model ${model}) is investigating`,
      attempts: [{ number: 1, startedAt: now.toISOString() }],
    }));
    await io.audit.append("phase_change", { from: "Pending", to: "Investigating", reason: "agent session started" });
    await this.deps.files.save(remediation.metadata.namespace, remediation.metadata.name, state);
    return state;
  }

  private context(
    remediation: AgentRemediation,
    desiredState: DesiredState,
    input: {
      policy: RemediationPolicySpec;
      signal: AbortSignal;
      audit: AuditLog;
      updateStatus: SessionContext["updateStatus"];
      state: SessionState;
    },
  ): SessionContext {
    const { namespace, name } = remediation.metadata;
    const { policy } = input;
    const pendingAtStart = new Set((remediation.status?.pendingApproval ?? []).map((p) => p.id));
    return {
      client: this.deps.client,
      provider: this.deps.provider,
      system: systemPrompt(policy, desiredState.spec.target.kubernetes ? "kubernetes" : "docker"),
      maxTokens: this.deps.maxTokens,
      policy,
      mode: remediation.spec.mode,
      ownObjects: this.ownObjects(desiredState, alertDriven(remediation)),
      toolset: toolsetFor(desiredState.spec.target),
      tools: {
        ...this.toolAccess(desiredState),
        timeoutMs: parseDuration(policy.budgets.toolTimeout) ?? 30_000,
        outputCapBytes: policy.budgets.outputCap,
        dryRun: policy.dryRun,
      },
      audit: input.audit,
      maxAttempts: remediation.spec.maxAttempts,
      signal: input.signal,
      verify: () => this.verify(remediation, desiredState, input.signal),
      // Only calls a person could see as pending when deciding: an "approve all" is not a
      // blank cheque for calls the model makes afterwards.
      approval: (id) => (pendingAtStart.has(id) ? approvalFor(remediation, id) : undefined),
      saveState: (state) => this.deps.files.save(namespace, name, state),
      updateStatus: input.updateStatus,
    };
  }

  /**
   * Each step a person would look for is an Event on the remediation (`kubectl describe`):
   * a phase change, and every recorded change — run, approved (by whom) or denied.
   */
  private recordSteps(remediation: AgentRemediation, before: RemediationStatus, after: RemediationStatus): void {
    const events = this.deps.events;
    if (!events) return;
    if (after.phase !== before.phase) {
      const type = after.phase === "Escalated" || after.phase === "Failed" ? "Warning" : "Normal";
      events.record(remediation, {
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
      events.record(remediation, actionEvent(action));
  }

  /** The tools reach Docker, or the target's namespace only. */
  private toolAccess(desiredState: DesiredState): Pick<ToolEnvironment, "docker" | "kubernetes" | "prometheus"> {
    const { docker, kubernetes, prometheus } = this.deps.tools;
    const namespace = desiredState.spec.target.kubernetes?.namespace;
    if (namespace === undefined) return { docker, prometheus };
    if (!kubernetes) return { prometheus };
    return {
      prometheus,
      kubernetes: { namespace, actions: kubernetes.actions, observed: () => this.observedWorkloads(desiredState) },
    };
  }

  private observedWorkloads(desiredState: DesiredState): WorkloadObservation | undefined {
    const { target } = desiredState.spec;
    const view = target.kubernetes && this.deps.tools.kubernetes?.observer.namespace(target.kubernetes.namespace);
    if (!view?.synced) return undefined;
    return {
      workloads: view.workloads.filter((w) => inKubernetesTarget(target, w)),
      pods: view.pods.filter((p) => inKubernetesTarget(target, p)),
    };
  }

  /**
   * What this DesiredState declares: its containers, or its workloads (`deployment/web`)
   * and their pods (`pod/web-1`). The only objects the agent may change. An alert names no
   * service, so for a remediation an alert opened (`wholeTarget`) that is every container,
   * or every workload and pod, the target selects; the policy still judges each change.
   */
  private ownObjects(desiredState: DesiredState, wholeTarget: boolean): Set<string> {
    return desiredState.spec.target.kubernetes
      ? this.ownWorkloads(desiredState, wholeTarget)
      : this.ownContainers(desiredState, wholeTarget);
  }

  private ownWorkloads(desiredState: DesiredState, wholeTarget: boolean): Set<string> {
    const names = new Set<string>();
    const observed = this.observedWorkloads(desiredState);
    if (!observed) return names;
    if (wholeTarget) {
      for (const workload of observed.workloads) names.add(workloadSubject(workload));
      for (const pod of observed.pods) names.add(`pod/${pod.name}`);
    }
    for (const service of desiredState.spec.services) {
      const workload = workloadOfService(service, observed);
      if (!workload) continue;
      names.add(workloadSubject(workload));
      for (const pod of podsOf(workload, observed.pods)) names.add(`pod/${pod.name}`);
    }
    return names;
  }

  private ownContainers(desiredState: DesiredState, wholeTarget: boolean): Set<string> {
    const names = new Set<string>();
    const targetContainers = (this.deps.tools.docker?.containers() ?? []).filter((c) =>
      inDockerTarget(desiredState.spec.target, c),
    );
    if (wholeTarget) for (const c of targetContainers) names.add(c.name);
    for (const service of desiredState.spec.services) {
      names.add(service.name);
      for (const c of containersOfService(service, targetContainers)) names.add(c.name);
    }
    return names;
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
      const cleared = driftCleared(remediation, {
        desiredState: desiredState.metadata.name,
        currentDrift: drift,
        invariants: observation.invariants,
        targetObserved: targetObserved(observation),
        alertResolved: await this.deps.observer.freshAlertResolution(remediation.spec.drift, signal),
      });
      if (cleared) return { cleared: true, details: "the drift that opened this incident is gone" };
      if (Date.now() >= deadline) {
        const own = new Set(remediation.spec.drift.map((d) => driftFingerprint(desiredState.metadata.name, d)));
        const still = drift.filter((d) => own.has(driftFingerprint(desiredState.metadata.name, d)));
        const unknown = observation.invariants
          .filter((i) => i.state !== "Holding")
          .map((i) => `invariant ${i.name} is ${i.state}${i.reason ? ` (${i.reason})` : ""}`);
        const details =
          [...still.map((d) => `${d.subject}: expected ${d.expected}, observed ${d.observed}`), ...unknown].join(
            "; ",
          ) || "the signals could not be observed";
        return { cleared: false, details };
      }
      await new Promise((resolve) => setTimeout(resolve, VERIFY_POLL_MS));
    }
  }

  private async finish(
    outcome: SessionOutcome,
    io: { audit: AuditLog; updateStatus: SessionContext["updateStatus"]; getStatus: () => RemediationStatus },
  ): Promise<void> {
    if (outcome.type === "awaitingApproval") return;
    const { phase, reason } = CLOSING[outcome.type];
    const from = io.getStatus().phase;
    const now = new Date().toISOString();
    await io.updateStatus((s) => ({
      ...s,
      phase,
      reason,
      message: outcome.type === "resolved" ? "the agent's fix was verified: the drift is gone" : outcome.reason,
      summary: outcome.type === "resolved" ? outcome.summary : (s.summary ?? outcome.reason),
      pendingApproval: [],
      closedAt: now,
    }));
    await io.audit.append(
      "phase_change",
      { from, to: phase, reason: outcome.type === "resolved" ? "verified" : outcome.reason },
      { sync: true },
    );
  }
}

const CLOSING: Record<
  Exclude<SessionOutcome["type"], "awaitingApproval">,
  { phase: RemediationPhase; reason: string }
> = {
  resolved: { phase: "Resolved", reason: "Verified" },
  escalated: { phase: "Escalated", reason: "Escalated" },
  interrupted: { phase: "Interrupted", reason: "ActionsInterrupted" },
};

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

/** Opened for a firing Alertmanager alert. */
function alertDriven(remediation: AgentRemediation): boolean {
  return remediation.spec.drift.some((d) => d.type === "AlertFiring");
}
