import type Anthropic from "@anthropic-ai/sdk";
import { parseDuration } from "../api/duration.js";
import type { DesiredState } from "../api/desired-state.js";
import type { AgentRemediation, Usage } from "../api/remediation.js";
import type { StewardMetrics } from "../telemetry/metrics.js";
import { containersOfService, driftFingerprint } from "../reconcile/drift.js";
import type { KubernetesObserver } from "../observe/types.js";
import type { KubernetesActions } from "../act/types.js";
import { targetObserved, type SystemObserver } from "../reconcile/observation.js";
import { driftCleared, emptyRemediationStatus } from "../reconcile/remediations.js";
import type { RemediationStatusPort } from "../reconcile/remediation-status.js";
import { inDockerTarget } from "../reconcile/target.js";
import {
  inKubernetesTarget,
  podsOf,
  workloadOfService,
  workloadSubject,
  type WorkloadObservation,
} from "../reconcile/workload-drift.js";
import { AuditLog } from "./audit.js";
import { approvalFor } from "../api/approvals.js";
import { handOver, sessionStart } from "./handover.js";
import { incidentMessage, systemPrompt } from "./prompt.js";
import { answerFromRecord, recoverActions } from "./recovery.js";
import type { SessionOutcome, SessionRunContext, SessionRunner } from "../reconcile/session-runner.js";
import {
  changeStatus,
  runSession,
  type SessionContext,
  type SessionState,
  type SessionStatus,
  type StatusRecords,
} from "./session.js";
import { newSessionId, type SessionFiles } from "./session-store.js";
import type { DockerToolAccess, ToolEnvironment } from "./tools.js";
import { toolsetFor } from "./toolsets.js";
import { sanitizeForLog } from "../text/redact.js";

export interface AgentRunnerDeps {
  files: SessionFiles;
  client: Anthropic;
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
  constructor(private readonly deps: AgentRunnerDeps) {}

  async run(
    remediation: AgentRemediation,
    desiredState: DesiredState,
    context: SessionRunContext,
  ): Promise<SessionOutcome> {
    const { namespace, name } = remediation.metadata;
    const usageBefore = context.status.current.usage;
    // A crash can tear the last line (a write cut short); the repair is itself audited.
    const audit = await AuditLog.open(this.deps.files.auditPath(namespace, name), {
      sanitize: sanitizeForLog,
      repairTornTail: true,
    });
    let outcome: SessionOutcome;
    try {
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
    context.logger.info("agent session finished", { remediation: name, outcome: outcome.type });
    return outcome;
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
    if (start.type === "begin") return this.begin(input, records);
    context.logger.warn("continuing an agent session whose conversation is on another replica", {
      remediation: name,
      phase: remediation.status?.phase,
      sessionId: remediation.status?.sessionId,
    });
    const handover = { model: policy.model ?? this.deps.model, outputCap: policy.budgets.outputCap, now: new Date() };
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

  private async begin(input: RunInput, records: RunRecords): Promise<SessionState> {
    const { remediation, desiredState, context } = input;
    const { policy } = context;
    const now = new Date();
    const model = policy.model ?? this.deps.model;
    const state: SessionState = {
      sessionId: newSessionId(now),
      model,
      attempt: 1,
      messages: [{ role: "user", content: incidentMessage(desiredState, remediation, policy.budgets.outputCap) }],
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
        system: systemPrompt(policy, desiredState.spec.target.kubernetes ? "kubernetes" : "docker"),
        maxTokens: this.deps.maxTokens,
      },
      rules: {
        policy,
        mode: remediation.spec.mode,
        ownObjects: this.ownObjects(desiredState),
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
   * and their pods (`pod/web-1`). The only objects the agent may change.
   */
  private ownObjects(desiredState: DesiredState): Set<string> {
    const names = new Set<string>();
    if (desiredState.spec.target.kubernetes) {
      const observed = this.observedWorkloads(desiredState);
      for (const service of desiredState.spec.services) {
        const workload = observed && workloadOfService(service, observed);
        if (!workload) continue;
        names.add(workloadSubject(workload));
        for (const pod of podsOf(workload, observed.pods)) names.add(`pod/${pod.name}`);
      }
      return names;
    }
    const targetContainers = (this.deps.tools.docker?.containers() ?? []).filter((c) =>
      inDockerTarget(desiredState.spec.target, c),
    );
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
