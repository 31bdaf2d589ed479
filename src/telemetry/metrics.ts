import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { RemediationPhase } from "../api/remediation.js";

export const RECONCILE_RESULTS = ["success", "requeue_after", "error", "terminal"] as const;
export type ReconcileResultLabel = (typeof RECONCILE_RESULTS)[number];
/** The controllers, as the `controller` label of the reconcile metrics names them. */
export const CONTROLLERS = ["desiredstate", "remediation"] as const;
export type ControllerLabel = (typeof CONTROLLERS)[number];
export const CIRCUIT_STATES = ["closed", "open", "half_open"] as const;
export type CircuitStateLabel = (typeof CIRCUIT_STATES)[number];
/** Why an agent session did not start when its remediation was reconciled. */
export const SESSION_DEFERRAL_REASONS = ["Cooldown", "CircuitOpen"] as const;

/**
 * Every metric Steward exports, on one registry owned by the process (no module-level
 * registry). Label sets are initialised to zero at start-up so dashboards and `rate()`
 * see a series before the first event.
 */
export class StewardMetrics {
  readonly registry = new Registry();
  readonly reconcileTotal: Counter<"controller" | "result">;
  readonly reconcileErrors: Counter;
  readonly reconcileDuration: Histogram;
  readonly driftGauge: Gauge<"desiredstate">;
  readonly simpleFixes: Counter<"action" | "result">;
  readonly remediations: Gauge<"phase">;
  readonly remediationsOpened: Counter;
  readonly queueDepth: Gauge;
  readonly observerConnected: Gauge<"observer">;
  readonly storeWatchRestarts: Counter<"reason">;
  readonly agentTokens: Counter<"type">;
  readonly agentCostUSD: Counter;
  readonly agentSessions: Counter<"outcome">;
  readonly leader: Gauge;
  readonly leadershipLost: Counter;
  readonly openingsDeferred: Counter;
  readonly agentSessionsRunning: Gauge;
  readonly agentSessionsDeferred: Counter<"reason">;
  readonly agentApiErrors: Counter;
  readonly circuitState: Gauge<"state">;
  readonly circuitOpened: Counter;

  constructor() {
    const registers = [this.registry];
    // Event-loop lag sampled every 100 ms, not prom-client's 10 ms: that timer woke the
    // process 100 times a second, about 0.3 % of a core at idle (npm run bench).
    collectDefaultMetrics({ register: this.registry, prefix: "steward_process_", eventLoopMonitoringPrecision: 100 });
    this.reconcileTotal = new Counter({
      name: "steward_reconcile_total",
      help: "Reconciles by controller and result.",
      labelNames: ["controller", "result"],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: "steward_reconcile_errors_total",
      help: "Reconciles that ended in an error.",
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: "steward_reconcile_duration_seconds",
      help: "Time one reconcile took.",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.driftGauge = new Gauge({
      name: "steward_drift",
      help: "Drift items per DesiredState.",
      labelNames: ["desiredstate"],
      registers,
    });
    this.simpleFixes = new Counter({
      name: "steward_simple_fixes_total",
      help: "Simple fixes applied.",
      labelNames: ["action", "result"],
      registers,
    });
    this.remediations = new Gauge({
      name: "steward_remediations",
      help: "AgentRemediations by phase.",
      labelNames: ["phase"],
      registers,
    });
    this.remediationsOpened = new Counter({
      name: "steward_remediations_opened_total",
      help: "AgentRemediations opened.",
      registers,
    });
    this.queueDepth = new Gauge({
      name: "steward_workqueue_depth",
      help: "Keys waiting in the work queue.",
      registers,
    });
    this.observerConnected = new Gauge({
      name: "steward_observer_connected",
      help: "1 when the observer's source (docker, prometheus, store) is reachable.",
      labelNames: ["observer"],
      registers,
    });
    this.storeWatchRestarts = new Counter({
      name: "steward_store_watch_restarts_total",
      help: "Kubernetes store informer watches restarted, by why they stopped (ended is the normal cycle).",
      labelNames: ["reason"],
      registers,
    });
    this.agentTokens = new Counter({
      name: "steward_agent_tokens_total",
      help: "Tokens agent sessions used, by type.",
      labelNames: ["type"],
      registers,
    });
    this.agentCostUSD = new Counter({
      name: "steward_agent_cost_usd_total",
      help: "Estimated cost of agent sessions in USD.",
      registers,
    });
    this.agentSessions = new Counter({
      name: "steward_agent_session_runs_total",
      help: "Agent session runs, by how they ended.",
      labelNames: ["outcome"],
      registers,
    });
    this.leader = new Gauge({
      name: "steward_leader",
      help: "1 while this process runs the controllers (holds the lease, or has no leader election).",
      registers,
    });
    this.leadershipLost = new Counter({
      name: "steward_leadership_lost_total",
      help: "Times this replica lost the Lease and stopped acting (it stays up as a standby).",
      registers,
    });
    this.openingsDeferred = new Counter({
      name: "steward_remediation_openings_deferred_total",
      help: "Remediation openings deferred by the global rate limit (--max-openings-per-minute); counted per attempt.",
      registers,
    });
    this.agentSessionsRunning = new Gauge({
      name: "steward_agent_sessions_running",
      help: "Agent sessions running now (at most --max-sessions).",
      registers,
    });
    this.agentSessionsDeferred = new Counter({
      name: "steward_agent_sessions_deferred_total",
      help: "Agent sessions not started when due, by reason (Cooldown: spec.remediation.cooldown; CircuitOpen: the circuit breaker).",
      labelNames: ["reason"],
      registers,
    });
    this.agentApiErrors = new Counter({
      name: "steward_agent_api_errors_total",
      help: "Messages API calls that failed with a transient error (connection, timeout, 429, 5xx, 529) after the SDK's retries.",
      registers,
    });
    this.circuitState = new Gauge({
      name: "steward_agent_circuit_state",
      help: "The agent circuit breaker: 1 for its current state.",
      labelNames: ["state"],
      registers,
    });
    this.circuitOpened = new Counter({
      name: "steward_agent_circuit_opened_total",
      help: "Times the agent circuit breaker opened.",
      registers,
    });
    for (const controller of CONTROLLERS) {
      for (const result of RECONCILE_RESULTS) this.reconcileTotal.inc({ controller, result }, 0);
    }
    this.initialiseLabelSets();
  }

  /** Every known label set at zero, so a series exists before its first event. */
  private initialiseLabelSets(): void {
    for (const reason of SESSION_DEFERRAL_REASONS) this.agentSessionsDeferred.inc({ reason }, 0);
    for (const state of CIRCUIT_STATES) this.circuitState.set({ state }, state === "closed" ? 1 : 0);
    for (const type of ["input", "output", "cache_read", "cache_write"]) this.agentTokens.inc({ type }, 0);
    for (const outcome of ["resolved", "escalated", "awaitingApproval", "interrupted"])
      this.agentSessions.inc({ outcome }, 0);
    for (const phase of RemediationPhase.options) this.remediations.set({ phase }, 0);
    for (const action of ["start", "restart", "scale"]) {
      for (const result of ["Succeeded", "Failed"]) this.simpleFixes.inc({ action, result }, 0);
    }
  }
}
