import { isDeepStrictEqual } from "node:util";
import {
  DesiredStateStatus,
  type DesiredState,
  type Drift,
  type FixRecord,
  type InvariantStatus,
} from "../api/desired-state.js";
import type { AgentRemediation, RemediationStatus } from "../api/remediation.js";
import { InvalidObjectError, NotFoundError, StewardError, errorMessage } from "../errors.js";
import type { Logger } from "../telemetry/logging.js";
import type { DockerActions, KubernetesActions } from "../act/types.js";
import type { StewardMetrics } from "../telemetry/metrics.js";
import type { EventRecorder } from "../store/events.js";
import type { InvalidObject, ObjectRef, Store } from "../store/store.js";
import type { InvalidObjects } from "./invalid-objects.js";
import {
  desiredStateConditions,
  invalidSpecConditions,
  setCondition,
  type DeferredOpenings,
  type UnattendedRemediation,
} from "./conditions.js";
import { SystemObserver, type Observation, type ObserverSet } from "./observation.js";
import { gatherEvidence } from "./evidence.js";
import { evaluationIntervalMs, nextEvaluationDelay } from "./invariants.js";
import { planSteps, type PlannedStep } from "./plan.js";
import {
  DONE,
  requeueAfter,
  type ReconcileContext,
  type Reconciler,
  type ReconcileRequest,
  type ReconcileResult,
} from "./reconciler.js";
import { workloadOf } from "./workload-drift.js";
import type { OpeningRateLimiter } from "../resilience/token-bucket.js";
import { objectKey } from "../api/resources.js";
import { intentRecord, settleInterruptedFixes } from "./fix-intents.js";
import {
  cooldownMs,
  emptyRemediationStatus,
  isOpen,
  newRemediation,
  type AgentAvailability,
  type OpenStep,
} from "./remediations.js";

export interface DesiredStateReconcilerDeps {
  store: Store;
  observers: ObserverSet;
  dockerActions?: DockerActions;
  kubernetesActions?: KubernetesActions;
  metrics: StewardMetrics;
  agent: AgentAvailability;
  events?: EventRecorder;
  now?: () => Date;
  /** The global limit on openings; absent: no limit. */
  openings?: OpeningRateLimiter;
  /** DesiredStates the store reported invalid: reported in their status, not acted on. */
  invalid?: InvalidObjects;
  /**
   * True when `observers.prometheus` is a QueryEvaluator that enqueues a DesiredState when
   * one of its query results changes (handlers.ts): a converged DesiredState then waits for
   * a change instead of being reconciled every interval.
   */
  evaluatorEnqueues?: boolean;
}

/** How soon to look again after a simple fix, to confirm it stuck (events usually come first). */
const VERIFY_FIX_AFTER_MS = 2_000;
/** Fix records older than this are dropped from status (longer than any sane budget window). */
const FIX_HISTORY_MS = 24 * 3_600_000;
const FIX_HISTORY_MAX = 100;

/**
 * Reconciles one DesiredState: observe → compute drift → act (nothing, a simple fix, or
 * open a remediation) → write status. Level-triggered: it reads everything afresh each
 * time and keeps nothing between reconciles except what is in the object's status.
 */
export class DesiredStateReconciler implements Reconciler {
  private readonly now: () => Date;
  private readonly observer: SystemObserver;
  /** Per DesiredState key, the openings its current reconcile could not make (never two reconciles of one key at once). */
  private readonly deferred = new Map<string, DeferredOpenings>();

  constructor(private readonly deps: DesiredStateReconcilerDeps) {
    this.now = deps.now ?? ((): Date => new Date());
    this.observer = new SystemObserver(deps.observers);
  }

  async reconcile(request: ReconcileRequest, context: ReconcileContext): Promise<ReconcileResult> {
    const ref = { namespace: request.namespace, name: request.name };
    if (await this.reportInvalid(request.key, ref, context.logger)) return DONE;
    const desiredState = await this.deps.store.get("DesiredState", ref);
    if (!desiredState) {
      // Its open remediations are cancelled by their owner, the remediation controller.
      this.deps.metrics.driftGauge.remove({ desiredstate: request.name });
      return DONE;
    }
    const now = this.now();
    const status = desiredState.status ?? { conditions: [], drift: [], invariants: [], fixes: [] };
    this.deferred.delete(request.key);
    const fixesBefore = settleInterruptedFixes(status.fixes);
    const { drift, observation } = await this.observer.drift(desiredState, status, now, context.signal);
    logNewDrift(status.drift, drift, context.logger);
    const { open, escalated, selfCleared } = await this.remediationsOf(desiredState);
    const steps = planSteps({
      desiredState: desiredState.metadata.name,
      services: desiredState.spec.services,
      simpleFixes: desiredState.spec.remediation.simpleFixes,
      drift,
      containers: observation.containers ?? [],
      fixes: fixesBefore,
      openFingerprints: new Set(open.map((r) => r.spec.fingerprint)),
      escalatedAt: escalated,
      selfClearedAt: selfCleared,
      reopenAfterMs: cooldownMs(desiredState),
      now,
    });
    const fixes = await this.act(desiredState, steps, {
      observation,
      open,
      now,
      context,
      status: { ...status, fixes: fixesBefore },
    });
    const next: DesiredStateStatus = {
      observedGeneration: desiredState.metadata.generation,
      conditions: [],
      drift,
      invariants: observation.invariants,
      fixes: trimFixes([...fixesBefore, ...fixes], now),
      lastReconcileTime: now.toISOString(),
      activeRemediation: open[0]?.metadata.name,
    };
    next.conditions = desiredStateConditions({
      generation: desiredState.metadata.generation ?? 1,
      drift,
      invariants: observation.invariants,
      activeRemediation: next.activeRemediation,
      degradations: observation.degradations,
      deferredOpenings: this.deferred.get(request.key),
      escalated: steps.flatMap((step) => (step.type === "wait" && step.escalated ? [step.drift] : [])),
      flapping: steps.flatMap((step) =>
        step.type === "wait" && step.flappingUntil ? [{ subject: step.drift.subject, until: step.flappingUntil }] : [],
      ),
      unattended: open.flatMap(unattended),
    }).reduce((list, condition) => setCondition(list, condition, now), status.conditions);
    this.deps.metrics.driftGauge.set({ desiredstate: desiredState.metadata.name }, drift.length);
    await this.writeStatus(desiredState, status, next);
    const deferred = this.deferred.get(request.key);
    this.deferred.delete(request.key);
    const delay = Math.min(
      this.nextDelay(desiredState, { invariants: observation.invariants, drift, fixed: fixes.length > 0, steps }, now),
      deferred?.retryInMs ?? Number.POSITIVE_INFINITY,
    );
    return Number.isFinite(delay) ? requeueAfter(delay) : DONE;
  }

  /**
   * A DesiredState whose spec is invalid (an older CRD let it in): nothing is done with it,
   * and its status says why (InvalidSpec), written once per change. False when the store
   * reported no such object, or it is gone.
   */
  private async reportInvalid(key: string, ref: ObjectRef, logger: Logger): Promise<boolean> {
    const invalid = this.deps.invalid?.get(key);
    if (!invalid) return false;
    const { before, next } = invalidSpecStatus(invalid, this.now());
    if (isDeepStrictEqual(comparable(before), comparable(next))) return true;
    logger.warn("the DesiredState's spec is invalid; not acting on it", { problems: invalid.problems });
    try {
      await this.deps.store.updateStatus("DesiredState", ref, next);
    } catch (err) {
      // The status was written; the object the server returns still fails validation.
      if (err instanceof InvalidObjectError) return true;
      if (!(err instanceof NotFoundError)) throw err;
      this.deps.invalid?.forget(key);
      return false;
    }
    return true;
  }

  /**
   * This DesiredState's open remediations, when a person last took over each drift, and
   * when each drift last cleared by itself. An open one whose drift has cleared is still
   * listed: its owner, the remediation controller, closes it (and that phase change brings
   * this DesiredState back).
   */
  private async remediationsOf(
    desiredState: DesiredState,
  ): Promise<{ open: AgentRemediation[]; escalated: Map<string, string>; selfCleared: Map<string, string> }> {
    const all = (await this.deps.store.list("AgentRemediation", desiredState.metadata.namespace)).filter(
      (r) => r.spec.desiredStateRef.name === desiredState.metadata.name,
    );
    return {
      open: all.filter(isOpen),
      escalated: latestCloseBy(
        all,
        (s) => s.phase === "Escalated" || s.phase === "Failed" || s.phase === "Interrupted",
      ),
      selfCleared: latestCloseBy(all, (s) => s.phase === "Resolved" && s.reason === "DriftCleared"),
    };
  }

  private async act(
    desiredState: DesiredState,
    steps: readonly PlannedStep[],
    input: {
      observation: Observation;
      open: AgentRemediation[];
      now: Date;
      context: ReconcileContext;
      status: DesiredStateStatus;
    },
  ): Promise<FixRecord[]> {
    const intents = steps.flatMap((step) =>
      step.type === "fix" ? [intentRecord({ subject: step.drift.subject, action: step.action }, input.now)] : [],
    );
    await this.recordIntents(desiredState, input.status, intents, input.now);
    const fixes: FixRecord[] = [];
    for (const step of steps) {
      if (step.type === "fix") fixes.push(await this.applyFix(desiredState, step, input));
      else if (step.type === "open" && this.mayOpen(desiredState, step, input))
        input.open.push(await this.openRemediation(desiredState, step, input));
    }
    return fixes;
  }

  /**
   * Every fix this reconcile is about to make, written to status as `Started` before any of
   * them runs (see fix-intents.ts): no fix without a durable record. Nothing runs if this fails.
   */
  private async recordIntents(
    desiredState: DesiredState,
    status: DesiredStateStatus,
    intents: FixRecord[],
    now: Date,
  ): Promise<void> {
    if (intents.length === 0) return;
    await this.deps.store.updateStatus("DesiredState", desiredState.metadata, {
      ...status,
      fixes: trimFixes([...status.fixes, ...intents], now),
    });
  }

  private async applyFix(
    desiredState: DesiredState,
    step: Extract<PlannedStep, { type: "fix" }>,
    { now, context }: { now: Date; context: ReconcileContext },
  ): Promise<FixRecord> {
    const record: FixRecord = {
      subject: step.drift.subject,
      action: step.action,
      time: now.toISOString(),
      result: "Succeeded",
    };
    try {
      record.message = await this.runFix(desiredState, step, context.signal);
      context.logger.info("simple fix applied", {
        action: step.action,
        subject: step.drift.subject,
        drift: step.drift.observed,
      });
    } catch (err) {
      record.result = "Failed";
      record.message = errorMessage(err);
      context.logger.warn("simple fix failed", {
        action: step.action,
        subject: step.drift.subject,
        error: record.message,
      });
    }
    this.deps.metrics.simpleFixes.inc({ action: step.action, result: record.result });
    this.deps.events?.record(desiredState, {
      type: record.result === "Succeeded" ? "Normal" : "Warning",
      reason: record.result === "Succeeded" ? "SimpleFixApplied" : "SimpleFixFailed",
      action: { start: "Start", restart: "Restart", scale: "Scale" }[step.action],
      note: record.message ?? "",
    });
    return record;
  }

  /** Runs one simple fix; returns what was done, in words. */
  private async runFix(
    desiredState: DesiredState,
    step: Extract<PlannedStep, { type: "fix" }>,
    signal: AbortSignal,
  ): Promise<string> {
    const { dockerActions, kubernetesActions } = this.deps;
    if (step.action === "scale") {
      const workload = workloadOf(step.workload, desiredState.spec.target.kubernetes?.namespace ?? "");
      if (!workload || !kubernetesActions)
        throw new StewardError(`cannot scale ${step.workload}: this Steward does not act on Kubernetes workloads`);
      await kubernetesActions.scale(workload, step.replicas, signal);
      return `scaled ${step.workload} back to ${step.replicas} replicas (${step.drift.observed})`;
    }
    if (!dockerActions)
      throw new StewardError(`cannot ${step.action} ${step.container}: this Steward does not act on Docker`);
    if (step.action === "start") await dockerActions.start(step.container, signal);
    else await dockerActions.restart(step.container, signal);
    return `${step.action}ed ${step.container} (${step.drift.observed})`;
  }

  /**
   * Takes a token from the global opening limit. Without one the drift waits: the status
   * says so (the Remediating condition) and the reconcile comes back when a token is due.
   */
  private mayOpen(
    desiredState: DesiredState,
    step: OpenStep,
    input: { now: Date; context: ReconcileContext },
  ): boolean {
    const { openings, metrics } = this.deps;
    const taken = openings?.take();
    if (!openings || !taken || taken.granted) return true;
    const key = objectKey("DesiredState", desiredState.metadata.namespace, desiredState.metadata.name);
    const before = this.deferred.get(key);
    const at = new Date(input.now.getTime() + taken.retryInMs).toISOString().replace(/\.\d+Z$/, "Z");
    this.deferred.set(key, {
      subjects: [...(before?.subjects ?? []), step.drift.subject],
      perMinute: openings.perMinute,
      retryInMs: taken.retryInMs,
      at,
    });
    metrics.openingsDeferred.inc();
    input.context.logger.warn("remediation opening deferred by the rate limit", {
      subject: step.drift.subject,
      perMinute: openings.perMinute,
      retryInMs: taken.retryInMs,
    });
    return false;
  }

  private async openRemediation(
    desiredState: DesiredState,
    step: OpenStep,
    input: { observation: Observation; now: Date; context: ReconcileContext },
  ): Promise<AgentRemediation> {
    const namespace = desiredState.spec.target.kubernetes?.namespace;
    const { workloads } = input.observation;
    const { kubernetesActions } = this.deps;
    const evidence = await gatherEvidence(step, {
      containers: input.observation.containers ?? [],
      actions: this.deps.dockerActions,
      kubernetes:
        namespace && workloads && kubernetesActions
          ? { namespace, observed: workloads, actions: kubernetesActions }
          : undefined,
      invariants: desiredState.spec.invariants,
      queryResults: input.observation.queryResults,
      alerts: input.observation.alerts,
      signal: input.context.signal,
    });
    const remediation = newRemediation(desiredState, step, evidence, { now: input.now, agent: this.deps.agent });
    const created = await this.deps.store.create(remediation);
    this.deps.metrics.remediationsOpened.inc();
    const note = `${step.drift.subject}: expected ${step.drift.expected}, observed ${step.drift.observed} (${step.reason})`;
    this.deps.events?.record(desiredState, {
      type: "Warning",
      reason: "RemediationOpened",
      action: "Open",
      note: `${created.metadata.name}: ${note}`,
    });
    this.deps.events?.record(created, { type: "Warning", reason: "Opened", action: "Open", note });
    input.context.logger.warn("remediation opened", {
      remediation: created.metadata.name,
      drift: `${step.drift.subject}: ${step.drift.observed}`,
      reason: step.reason,
    });
    return created;
  }

  /**
   * Writes status only when something other than timestamps changed. No periodic heartbeat:
   * one write per object per minute made a quiet system's cost grow with the number of
   * DesiredStates (1,000 of them: 1,000 writes and watch events a minute, and as many API
   * requests with the Kubernetes store). Liveness is /healthz, the reconcile metrics and the Lease.
   */
  private async writeStatus(
    desiredState: DesiredState,
    before: DesiredStateStatus,
    next: DesiredStateStatus,
  ): Promise<void> {
    if (isDeepStrictEqual(comparable(before), comparable(next))) return;
    try {
      await this.deps.store.updateStatus("DesiredState", desiredState.metadata, next);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }

  /**
   * When to look again unprompted (Infinity: not until something changes). Every interval
   * while drift remains (budgets and cooldowns pass with time), and when a flapping drift's
   * wait ends; without an evaluator that enqueues on changed query results, every interval
   * regardless, to evaluate the invariants.
   */
  private nextDelay(
    desiredState: DesiredState,
    {
      invariants,
      drift,
      fixed,
      steps,
    }: {
      invariants: readonly InvariantStatus[];
      drift: readonly Drift[];
      fixed: boolean;
      steps: readonly PlannedStep[];
    },
    now: Date,
  ): number {
    const periodic = drift.length > 0 || !this.deps.evaluatorEnqueues;
    const delays = periodic ? [evaluationIntervalMs(desiredState.spec)] : [];
    for (const status of invariants) {
      const spec = desiredState.spec.invariants.find((i) => i.name === status.name);
      const delay = spec ? nextEvaluationDelay(status, spec, now) : undefined;
      if (delay !== undefined) delays.push(Math.max(delay, 10));
    }
    if (fixed) delays.push(VERIFY_FIX_AFTER_MS);
    // A flapping drift may open its remediation then, if it is still here.
    for (const step of steps) {
      if (step.type === "wait" && step.flappingUntil)
        delays.push(Math.max(Date.parse(step.flappingUntil) - now.getTime(), 10));
    }
    return Math.min(Number.POSITIVE_INFINITY, ...delays);
  }
}

/** The stored status of an invalid DesiredState (whatever of it validates), and that status with InvalidSpec conditions. */
function invalidSpecStatus(
  invalid: InvalidObject,
  now: Date,
): { before: DesiredStateStatus; next: DesiredStateStatus } {
  const stored = DesiredStateStatus.safeParse(invalid.status ?? {});
  const before = stored.success ? stored.data : DesiredStateStatus.parse({});
  const generation = invalid.generation ?? 1;
  const conditions = invalidSpecConditions(invalid.problems, generation).reduce(
    (list, condition) => setCondition(list, condition, now),
    before.conditions,
  );
  return { before, next: { ...before, observedGeneration: generation, conditions } };
}

/** Reasons of an open remediation that no agent will work on (remediations.ts initialStatus). */
const UNATTENDED_REASONS: ReadonlySet<string> = new Set(["AgentOff", "NoModelConfigured"]);

function unattended(remediation: AgentRemediation): UnattendedRemediation[] {
  const { phase, reason } = remediation.status ?? emptyRemediationStatus();
  return phase === "Pending" && UNATTENDED_REASONS.has(reason ?? "")
    ? [{ name: remediation.metadata.name, reason: reason ?? "" }]
    : [];
}

/** Fingerprint → when its latest remediation that closed so (`closedSo`) closed. */
function latestCloseBy(
  remediations: readonly AgentRemediation[],
  closedSo: (status: RemediationStatus) => boolean,
): Map<string, string> {
  const latest = new Map<string, string>();
  for (const r of remediations) {
    const status = r.status ?? emptyRemediationStatus();
    const { closedAt } = status;
    if (!closedSo(status) || !closedAt) continue;
    const before = latest.get(r.spec.fingerprint);
    if (!before || before < closedAt) latest.set(r.spec.fingerprint, closedAt);
  }
  return latest;
}

/**
 * Status without the fields that change on every reconcile, to tell real changes apart.
 * Through JSON, so an absent field and one set to undefined compare equal: the status read
 * back from the store has no `activeRemediation` key where the new one has it undefined,
 * and isDeepStrictEqual told them apart, so every reconcile rewrote the status.
 */
function comparable(status: DesiredStateStatus): unknown {
  return JSON.parse(
    JSON.stringify({
      ...status,
      lastReconcileTime: undefined,
      invariants: status.invariants.map((i) => ({ ...i, lastEvaluationTime: undefined })),
    }),
  ) as unknown;
}

function trimFixes(fixes: FixRecord[], now: Date): FixRecord[] {
  const from = now.getTime() - FIX_HISTORY_MS;
  return fixes.filter((f) => Date.parse(f.time) > from).slice(-FIX_HISTORY_MAX);
}

/**
 * One line per drift item this reconcile found that the last status did not hold: when
 * Steward first saw it (the bench measures detection latency from these lines).
 */
function logNewDrift(before: readonly Drift[], now: readonly Drift[], logger: Logger): void {
  for (const d of now) {
    if (before.some((b) => b.type === d.type && b.subject === d.subject)) continue;
    logger.info("drift detected", { type: d.type, subject: d.subject, observed: d.observed });
  }
}
