import type { DesiredState } from "../api/desired-state.js";
import type { RemediationPolicySpec } from "../api/policy.js";
import type { AgentRemediation, RemediationPhase } from "../api/remediation.js";
import { APPROVE, APPROVED_BY, DENIED_BY, DENY, DENY_REASON, hasDecisionFor } from "../api/approvals.js";
import { DEFAULT_POLICY } from "../api/default-policy.js";
import {
  ModelUnavailableError,
  type SessionOutcome,
  type SessionRunContext,
  type SessionRunner,
} from "./session-runner.js";
import type { StewardMetrics } from "../telemetry/metrics.js";
import type { Logger } from "../telemetry/logging.js";
import type { Store } from "../store/store.js";
import { backoffDelay, type Backoff } from "../resilience/backoff.js";
import type { CircuitBreaker, SessionResult } from "../resilience/circuit-breaker.js";
import {
  DONE,
  requeueAfter,
  type ReconcileContext,
  type Reconciler,
  type ReconcileRequest,
  type ReconcileResult,
} from "./reconciler.js";
import type { EventRecorder } from "../store/events.js";
import { targetObserved, type SystemObserver } from "./observation.js";
import { RemediationStatusWriter } from "./remediation-status.js";
import { cooldownMs, driftCleared, isOpen } from "./remediations.js";
import type { SessionSlots } from "./session-slots.js";

/** Policies are not watched by this controller; a missing one is looked for again after this. */
const POLICY_RETRY_MS = 30_000;
/**
 * After the Messages API failed (and the SDK's retries with it), a remediation's session is
 * tried again within 10 s, the window doubling with each consecutive failure up to 5 min
 * (full jitter: many remediations that failed together do not come back together), never
 * within 5 s (the API just failed three times), and no sooner than the breaker allows.
 */
export const MODEL_RETRY: Backoff = { baseMs: 10_000, maxMs: 300_000, minMs: 5_000 };
/** Reasons this reconciler writes while a session waits; a session that goes on replaces them. */
const WAITING_REASONS: ReadonlySet<string> = new Set(["Cooldown", "CircuitOpen", "ModelUnavailable", "PolicyNotFound"]);

export interface RemediationReconcilerDeps {
  store: Store;
  /** Undefined when no model is configured: remediations then wait for a person. */
  runner: SessionRunner | undefined;
  /** Stops starting sessions after repeated failures (`--breaker-threshold 0`: never). */
  breaker: CircuitBreaker;
  /** At most --max-sessions sessions at once, without a worker held while one waits. */
  slots: SessionSlots;
  /** Sees whether a waiting remediation's drift went away by itself. */
  observer: SystemObserver;
  metrics: StewardMetrics;
  events?: EventRecorder;
}

interface Waiting {
  reason: string;
  message: string;
  retryInMs: number;
}

/** Phases in which no session is at work, so a drift that went away by itself closes the remediation. */
const CLOSABLE_WHEN_CLEARED: ReadonlySet<RemediationPhase> = new Set(["Pending", "AwaitingApproval"]);

/**
 * The owner of AgentRemediation.status (ADR 0008): every status write after the opening one
 * is this controller's, through a RemediationStatusWriter, including those of the agent
 * session it runs. It closes a remediation whose drift went away before a session worked
 * on it (DriftCleared) or whose DesiredState was deleted (Cancelled), seeing both for
 * itself; it drives the agent session, and says in the status why one waits.
 *
 * Sessions take a slot (at most --max-sessions at once); the rest wait Pending. Approvals
 * arrive as annotations; a remediation awaiting one is reconciled again when its
 * annotations change.
 */
export class RemediationReconciler implements Reconciler {
  /**
   * Per remediation key, when its session may be tried again after the API failed. In
   * memory: an approval or a change of the DesiredState brings the remediation back before
   * its requeue delay is over, and must not start the session early.
   */
  private readonly backoff = new Map<string, { until: number; failures: number; waiting: Waiting }>();

  constructor(private readonly deps: RemediationReconcilerDeps) {}

  async reconcile(request: ReconcileRequest, context: ReconcileContext): Promise<ReconcileResult> {
    try {
      return await this.reconcileRemediation(request, context);
    } finally {
      this.deps.slots.settled(request.key);
    }
  }

  private async reconcileRemediation(request: ReconcileRequest, context: ReconcileContext): Promise<ReconcileResult> {
    const { store } = this.deps;
    const ref = { namespace: request.namespace, name: request.name };
    const remediation = await store.get("AgentRemediation", ref);
    // Not born yet: the kubernetes store creates an object, then writes its opening status
    // (a second call). That write is a watch event, which brings the remediation back here.
    if (!remediation || remediation.status?.openedAt === undefined || !isOpen(remediation)) return DONE;
    const writer = new RemediationStatusWriter(remediation, { store, events: this.deps.events });
    const desiredState = await store.get("DesiredState", {
      namespace: ref.namespace,
      name: remediation.spec.desiredStateRef.name,
    });
    if (!desiredState) return this.cancel(writer, remediation, context.logger);
    if (await this.clearedByItself(remediation, desiredState, context.signal)) {
      await writer.apply({ type: "driftCleared", at: new Date().toISOString() });
      context.logger.info("remediation resolved: drift cleared by itself", { remediation: request.name });
      return DONE;
    }
    const { runner } = this.deps;
    if (!runner || !needsSession(remediation)) return DONE;
    return this.session(request.key, { remediation, desiredState, writer }, { runner, context });
  }

  /** Runs the session now, or says in the status why it waits. */
  private async session(
    key: string,
    target: { remediation: AgentRemediation; desiredState: DesiredState; writer: RemediationStatusWriter },
    input: { runner: SessionRunner; context: ReconcileContext },
  ): Promise<ReconcileResult> {
    const { remediation, desiredState, writer } = target;
    const { runner, context } = input;
    const policy = await this.policy(remediation.spec.policyRef, remediation.metadata.namespace);
    const blocked = this.backingOff(key) ?? (await this.blockedBy(remediation, desiredState, policy));
    if (blocked || !policy)
      return this.wait(writer, blocked ?? { reason: "PolicyNotFound", message: "", retryInMs: POLICY_RETRY_MS });
    const release = this.deps.slots.tryTake(key);
    // Every slot is taken: it waits Pending, and comes back when one frees (SessionSlots).
    if (!release) return DONE;
    try {
      // Asked only with a slot in hand: a probe the breaker admits then runs at once.
      const denied = this.admit(key, remediation);
      if (denied) return await this.wait(writer, denied);
      const sessionContext = { policy, signal: context.signal, logger: context.logger, status: writer };
      const run = (current: AgentRemediation): Promise<SessionOutcome> =>
        this.runSession(runner, current, desiredState, sessionContext);
      return await this.guarded(key, { remediation, writer }, { run, logger: context.logger });
    } finally {
      release();
    }
  }

  /** Its DesiredState was deleted: nothing is left to remediate. */
  private async cancel(
    writer: RemediationStatusWriter,
    remediation: AgentRemediation,
    logger: Logger,
  ): Promise<ReconcileResult> {
    const { name } = remediation.spec.desiredStateRef;
    const message = `DesiredState ${name} was deleted`;
    await writer.apply({ type: "cancelled", reason: "DesiredStateDeleted", message, at: new Date().toISOString() });
    logger.info("remediation cancelled: its DesiredState was deleted", { remediation: remediation.metadata.name });
    return DONE;
  }

  /**
   * Whether every drift the remediation was opened for is gone, on a fresh observation of
   * the same signals the DesiredState reconciler reads. Only while no session works on it:
   * a session's own verification closes what it fixed.
   */
  private async clearedByItself(
    remediation: AgentRemediation,
    desiredState: DesiredState,
    signal: AbortSignal,
  ): Promise<boolean> {
    if (!CLOSABLE_WHEN_CLEARED.has(remediation.status?.phase ?? "Pending")) return false;
    const status = desiredState.status ?? { conditions: [], drift: [], invariants: [], fixes: [] };
    const { drift, observation } = await this.deps.observer.drift(desiredState, status, new Date(), signal);
    return driftCleared(remediation, {
      desiredState: desiredState.metadata.name,
      currentDrift: drift,
      invariants: observation.invariants,
      targetObserved: targetObserved(observation),
      // As the DesiredState reconciler sees it: the alert cache (resolved webhooks, Alertmanager's list).
      alertResolved: observation.alertResolved,
    });
  }

  /** The session does not run now: the status says why, and it is looked at again when that may have changed. */
  private async wait(writer: RemediationStatusWriter, why: Waiting): Promise<ReconcileResult> {
    if (why.reason === "Cooldown" || why.reason === "CircuitOpen")
      this.deps.metrics.agentSessionsDeferred.inc({ reason: why.reason });
    await writer.apply({ type: "waiting", reason: why.reason, message: why.message });
    return requeueAfter(why.retryInMs);
  }

  /** Still waiting after a Messages API failure: the status already says so (ModelUnavailable). */
  private backingOff(key: string): Waiting | undefined {
    const entry = this.backoff.get(key);
    if (!entry) return undefined;
    const left = entry.until - Date.now();
    return left > 0 ? { ...entry.waiting, retryInMs: left } : undefined;
  }

  /**
   * The circuit breaker's word on running this session now. A run that only carries out a
   * person's decision (AwaitingApproval) is not held back: the person is waiting for it.
   */
  private admit(key: string, remediation: AgentRemediation): Waiting | undefined {
    if (remediation.status?.phase === "AwaitingApproval") return undefined;
    const admission = this.deps.breaker.admit(key);
    return admission.allowed
      ? undefined
      : { reason: "CircuitOpen", message: admission.message, retryInMs: admission.retryInMs };
  }

  /**
   * Runs the session and tells the breaker how it went. A Messages API outage (after the
   * SDK's retries) leaves the session where it was, says so in the status, and comes back
   * after a MODEL_RETRY backoff, and no sooner than the breaker lets it.
   */
  private async guarded(
    key: string,
    target: { remediation: AgentRemediation; writer: RemediationStatusWriter },
    session: { run: (current: AgentRemediation) => Promise<SessionOutcome>; logger: Logger },
  ): Promise<ReconcileResult> {
    const { breaker, metrics } = this.deps;
    const { remediation, writer } = target;
    const current = await this.resumeFromWaiting(remediation, writer);
    metrics.agentSessionsRunning.inc();
    try {
      const result = breakerResult(await session.run(current));
      this.backoff.delete(key);
      if (result) breaker.record(key, result);
      else breaker.abandon(key);
      return DONE;
    } catch (err) {
      if (err instanceof ModelUnavailableError)
        return await this.modelUnavailable(key, target, { err, logger: session.logger });
      this.backoff.delete(key);
      breaker.abandon(key);
      throw err;
    } finally {
      metrics.agentSessionsRunning.dec();
    }
  }

  private async modelUnavailable(
    key: string,
    target: { remediation: AgentRemediation; writer: RemediationStatusWriter },
    failure: { err: ModelUnavailableError; logger: Logger },
  ): Promise<ReconcileResult> {
    const { remediation, writer } = target;
    const { breaker, metrics } = this.deps;
    const { err } = failure;
    metrics.agentApiErrors.inc();
    breaker.record(key, { type: "failure", cause: err.message });
    // The session answered its pending calls before it called the model: a decision given on them is spent.
    if (remediation.status?.phase === "AwaitingApproval") await this.consumeDecisions(remediation);
    const failures = (this.backoff.get(key)?.failures ?? 0) + 1;
    const retryInMs = Math.max(breaker.openFor(), backoffDelay(failures - 1, MODEL_RETRY));
    const at = new Date(Date.now() + retryInMs).toISOString().replace(/\.\d+Z$/, "Z");
    const waiting = {
      reason: "ModelUnavailable",
      message: `${err.message}; the session is saved and goes on when the API answers (next try at ${at})`,
      retryInMs,
    };
    this.backoff.set(key, { until: Date.now() + retryInMs, failures, waiting });
    failure.logger.warn("agent session paused: the Messages API is unavailable", {
      error: err.message,
      retryInMs,
      failures,
    });
    await writer.apply({ type: "waiting", reason: waiting.reason, message: waiting.message });
    return requeueAfter(retryInMs);
  }

  /**
   * A session going on after it waited (ModelUnavailable, CircuitOpen…) no longer says it
   * waits. Returns the remediation the session starts from.
   */
  private async resumeFromWaiting(
    remediation: AgentRemediation,
    writer: RemediationStatusWriter,
  ): Promise<AgentRemediation> {
    const status = writer.current;
    if (status.phase === "Pending" || !WAITING_REASONS.has(status.reason ?? "")) return remediation;
    await writer.apply({ type: "waiting", reason: "AgentInvestigating", message: "the agent session goes on" });
    return { ...remediation, status: writer.current };
  }

  /** Runs the session; the approvals it acted on are spent, so their annotations go. */
  private async runSession(
    runner: SessionRunner,
    remediation: AgentRemediation,
    desiredState: DesiredState,
    context: SessionRunContext,
  ): Promise<SessionOutcome> {
    const phase = remediation.status?.phase ?? "Pending";
    // Remediating here means Steward stopped in the middle of a change, which may have been
    // approved: that approval is spent, and a lingering "all" must not approve the next call.
    if (phase === "Remediating") await this.consumeDecisions(remediation);
    const outcome = await runner.run(remediation, desiredState, context);
    if (phase === "AwaitingApproval") await this.consumeDecisions(remediation);
    return outcome;
  }

  /** Why the session cannot start or continue now: a cooldown, or a missing policy. */
  private async blockedBy(
    remediation: AgentRemediation,
    desiredState: DesiredState,
    policy: RemediationPolicySpec | undefined,
  ): Promise<{ reason: string; message: string; retryInMs: number } | undefined> {
    if ((remediation.status?.phase ?? "Pending") === "Pending") {
      const wait = await this.cooldownLeft(remediation, cooldownMs(desiredState));
      if (wait > 0) {
        // An absolute time: a countdown would change the status on every look.
        const at = new Date(Date.now() + wait).toISOString().replace(/\.\d+Z$/, "Z");
        const message = `another session for ${desiredState.metadata.name} ended recently; starting at ${at} (spec.remediation.cooldown)`;
        return { reason: "Cooldown", message, retryInMs: wait };
      }
    }
    if (!policy) {
      const message = `RemediationPolicy "${remediation.spec.policyRef}" not found; apply it, or use policyRef: default`;
      return { reason: "PolicyNotFound", message, retryInMs: POLICY_RETRY_MS };
    }
    return undefined;
  }

  /** The named policy, or the built-in `default` when none by that name was applied. */
  private async policy(name: string, namespace: string): Promise<RemediationPolicySpec | undefined> {
    const stored = await this.deps.store.get("RemediationPolicy", { namespace, name });
    if (stored) return stored.spec;
    return name === "default" ? DEFAULT_POLICY : undefined;
  }

  private async cooldownLeft(remediation: AgentRemediation, cooldownMs: number): Promise<number> {
    if (cooldownMs <= 0) return 0;
    const siblings = await this.deps.store.list("AgentRemediation", remediation.metadata.namespace);
    const lastEnd = siblings
      .filter(
        (r) =>
          r.metadata.name !== remediation.metadata.name &&
          r.spec.desiredStateRef.name === remediation.spec.desiredStateRef.name,
      )
      .filter((r) => r.status?.sessionId !== undefined && r.status.closedAt !== undefined)
      .map((r) => Date.parse(r.status?.closedAt ?? ""))
      .reduce((a, b) => Math.max(a, b), 0);
    return Math.max(0, lastEnd + cooldownMs - Date.now());
  }

  private async consumeDecisions(remediation: AgentRemediation): Promise<void> {
    await this.deps.store.annotate("AgentRemediation", remediation.metadata, {
      [APPROVE]: undefined,
      [APPROVED_BY]: undefined,
      [DENY]: undefined,
      [DENIED_BY]: undefined,
      [DENY_REASON]: undefined,
    });
  }
}

/** What a session's end tells the breaker; nothing when it neither succeeded nor failed (interrupted by a crash). */
function breakerResult(outcome: SessionOutcome): SessionResult | undefined {
  switch (outcome.type) {
    case "resolved":
    case "awaitingApproval":
      return { type: "success" };
    case "escalated":
      return { type: "failure", cause: `a session escalated: ${outcome.reason}` };
    default:
      return undefined;
  }
}

/** Agent on, and not waiting for a person who has not decided yet. */
function needsSession(remediation: AgentRemediation): boolean {
  if (remediation.spec.mode === "off") return false;
  return remediation.status?.phase !== "AwaitingApproval" || hasDecisionFor(remediation);
}
