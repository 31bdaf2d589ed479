import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { RemediationPhase } from "../api/remediation.js";

export const RECONCILE_RESULTS = ["success", "requeue_after", "error", "terminal"] as const;
export type ReconcileResultLabel = (typeof RECONCILE_RESULTS)[number];
export const CIRCUIT_STATES = ["closed", "open", "half_open"] as const;
export type CircuitStateLabel = (typeof CIRCUIT_STATES)[number];
/** Sink types and send results, for steward_notifications_total (every pair starts at zero). */
export const NOTIFICATION_SINKS = ["slack", "webhook", "pagerduty", "teams"] as const;
export const NOTIFICATION_RESULTS = ["delivered", "retry", "dead_letter"] as const;
/** Why an agent session did not start when its remediation was reconciled. */
export const SESSION_DEFERRAL_REASONS = ["Cooldown", "CircuitOpen"] as const;
/** The controllers, as the `controller` label of the reconcile and queue metrics names them (controller-runtime's convention). */
export const CONTROLLERS = ["desiredstate", "remediation", "notify"] as const;
export type ControllerLabel = (typeof CONTROLLERS)[number];
/** How an agent session run ended (SessionOutcome's type). */
export const SESSION_OUTCOMES = ["resolved", "escalated", "awaitingApproval", "interrupted"] as const;

/** What a work queue reports at scrape time. */
export interface QueueProbe {
  depth(): number;
  /** Seconds the longest-running reconcile of this queue has been running; 0 when none is. */
  longestRunningSeconds(): number;
}

/** What a work queue counts as it goes; one per controller (see StewardMetrics.queueHooks). */
export interface QueueHooks {
  added(): void;
  retried(): void;
  /** A key left the queue for a worker after waiting this long. */
  waited(seconds: number): void;
}

/**
 * Every metric Steward exports, on one registry owned by the process (no module-level
 * registry). Label sets are initialised to zero at start-up so dashboards and `rate()`
 * see a series before the first event.
 */
export class StewardMetrics {
  readonly registry = new Registry();
  readonly reconcileTotal: Counter<"controller" | "result">;
  readonly reconcileErrors: Counter<"controller">;
  readonly reconcileDuration: Histogram<"controller">;
  readonly driftGauge: Gauge<"desiredstate">;
  readonly simpleFixes: Counter<"action" | "result">;
  readonly remediations: Gauge<"phase">;
  readonly remediationsOpened: Counter;
  readonly queueDepth: Gauge<"controller">;
  readonly queueAdds: Counter<"controller">;
  readonly queueRetries: Counter<"controller">;
  readonly queueWait: Histogram<"controller">;
  readonly queueLongestRunning: Gauge<"controller">;
  readonly agentSessionDuration: Histogram<"outcome">;
  readonly remediationResolveDuration: Histogram;
  readonly awaitingApprovalOldest: Gauge;
  readonly auditVerifyFailures: Counter;
  private readonly queues = new Map<ControllerLabel, QueueProbe>();
  /** When each remediation now AwaitingApproval began waiting (epoch ms), by namespace/name. */
  private readonly awaitingSince = new Map<string, number>();
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
  readonly circuitProbes: Counter;
  readonly alertWebhookRequests: Counter<"code">;
  readonly alertsReceived: Counter<"status">;
  readonly alertsUnmatched: Counter;
  readonly notifications: Counter<"sink" | "result">;
  readonly notificationDeliverySeconds: Histogram<"sink">;
  readonly notificationsPending: Gauge;

  constructor() {
    const registers = [this.registry];
    // Event-loop lag sampled every 100 ms, not prom-client's 10 ms: that timer woke the
    // process 100 times a second, about 0.3 % of a core at idle (npm run bench). The prefix
    // is steward_ only: the default names already begin process_ or nodejs_.
    collectDefaultMetrics({ register: this.registry, prefix: "steward_", eventLoopMonitoringPrecision: 100 });
    const queues = this.queues;
    const awaitingSince = this.awaitingSince;
    this.reconcileTotal = new Counter({
      name: "steward_reconcile_total",
      help: "Reconciles by controller and result.",
      labelNames: ["controller", "result"],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: "steward_reconcile_errors_total",
      help: "Reconciles that ended in an error, by controller.",
      labelNames: ["controller"],
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: "steward_reconcile_duration_seconds",
      help: "Time one reconcile took, by controller (a remediation's reconcile runs its agent session: see steward_agent_session_duration_seconds).",
      labelNames: ["controller"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
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
      help: "Keys waiting in the controller's work queue.",
      labelNames: ["controller"],
      registers,
      collect() {
        for (const controller of CONTROLLERS) this.set({ controller }, queues.get(controller)?.depth() ?? 0);
      },
    });
    this.queueAdds = new Counter({
      name: "steward_workqueue_adds_total",
      help: "Keys added to the controller's work queue (a key already waiting is not added again).",
      labelNames: ["controller"],
      registers,
    });
    this.queueRetries = new Counter({
      name: "steward_workqueue_retries_total",
      help: "Keys requeued with backoff after a failed reconcile.",
      labelNames: ["controller"],
      registers,
    });
    this.queueWait = new Histogram({
      name: "steward_workqueue_queue_duration_seconds",
      help: "How long a key waited in the work queue before a worker took it.",
      labelNames: ["controller"],
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900],
      registers,
    });
    this.queueLongestRunning = new Gauge({
      name: "steward_workqueue_longest_running_processor_seconds",
      help: "How long the longest-running reconcile of the controller has been running.",
      labelNames: ["controller"],
      registers,
      collect() {
        for (const controller of CONTROLLERS)
          this.set({ controller }, queues.get(controller)?.longestRunningSeconds() ?? 0);
      },
    });
    this.agentSessionDuration = new Histogram({
      name: "steward_agent_session_duration_seconds",
      help: "Time one agent session run took, by how it ended (a session that waits for approval ends its run).",
      labelNames: ["outcome"],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600],
      registers,
    });
    this.remediationResolveDuration = new Histogram({
      name: "steward_remediation_resolve_duration_seconds",
      help: "From a remediation's opening to its Resolved phase; observed by the replica that leads.",
      buckets: [10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600, 86400],
      registers,
    });
    this.awaitingApprovalOldest = new Gauge({
      name: "steward_remediation_awaiting_approval_oldest_seconds",
      help: "How long the remediation that has waited longest for a person's approval has waited; 0 when none waits.",
      registers,
      collect() {
        const oldest = Math.min(...awaitingSince.values());
        this.set(Number.isFinite(oldest) ? Math.max(0, (Date.now() - oldest) / 1000) : 0);
      },
    });
    this.auditVerifyFailures = new Counter({
      name: "steward_audit_verify_failures_total",
      help: "Audit trails whose hash chain did not verify when a session continued (edited or truncated files).",
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
    this.circuitProbes = new Counter({
      name: "steward_agent_circuit_probes_total",
      help: "Times the agent circuit breaker went half-open and let one probe session through.",
      registers,
    });
    this.alertWebhookRequests = new Counter({
      name: "steward_alert_webhook_requests_total",
      help: "Requests to the Alertmanager webhook receiver, by HTTP status answered.",
      labelNames: ["code"],
      registers,
    });
    this.alertsReceived = new Counter({
      name: "steward_alerts_received_total",
      help: "Alerts received from Alertmanager, by status (firing, resolved).",
      labelNames: ["status"],
      registers,
    });
    this.alertsUnmatched = new Counter({
      name: "steward_alerts_unmatched_total",
      help: "Firing alerts no DesiredState's spec.alerts matches (each logged once).",
      registers,
    });
    this.notifications = new Counter({
      name: "steward_notifications_total",
      help: "Notification sends, by sink type and result (delivered, retry, dead_letter).",
      labelNames: ["sink", "result"],
      registers,
    });
    this.notificationDeliverySeconds = new Histogram({
      name: "steward_notification_delivery_seconds",
      help: "From a remediation's transition to its notification's acknowledgement by the sink.",
      labelNames: ["sink"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.notificationsPending = new Gauge({
      name: "steward_notifications_pending",
      help: "Notification deliveries waiting to be sent or retried.",
      registers,
    });
    this.zeroAlertAndNotificationSeries();
    this.startAtZero();
  }

  /** Every label set a dashboard or rate() needs, at zero before the first event. */
  private startAtZero(): void {
    for (const reason of SESSION_DEFERRAL_REASONS) this.agentSessionsDeferred.inc({ reason }, 0);
    for (const state of CIRCUIT_STATES) this.circuitState.set({ state }, state === "closed" ? 1 : 0);
    for (const type of ["input", "output", "cache_read", "cache_write"]) this.agentTokens.inc({ type }, 0);
    for (const outcome of SESSION_OUTCOMES) this.agentSessions.inc({ outcome }, 0);
    for (const controller of CONTROLLERS) this.startControllerAtZero(controller);
    for (const phase of RemediationPhase.options) this.remediations.set({ phase }, 0);
    for (const action of ["start", "restart", "scale"]) {
      for (const result of ["Succeeded", "Failed"]) this.simpleFixes.inc({ action, result }, 0);
    }
  }

  private startControllerAtZero(controller: ControllerLabel): void {
    for (const result of RECONCILE_RESULTS) this.reconcileTotal.inc({ controller, result }, 0);
    this.reconcileErrors.inc({ controller }, 0);
    this.queueAdds.inc({ controller }, 0);
    this.queueRetries.inc({ controller }, 0);
  }

  /** The queue of a controller: its depth and longest-running reconcile are read at each scrape. */
  watchQueue(controller: ControllerLabel, probe: QueueProbe): void {
    this.queues.set(controller, probe);
  }

  /** What the queue of a controller counts as it goes. */
  queueHooks(controller: ControllerLabel): QueueHooks {
    return {
      added: () => this.queueAdds.inc({ controller }),
      retried: () => this.queueRetries.inc({ controller }),
      waited: (seconds) => this.queueWait.observe({ controller }, seconds),
    };
  }

  /** A remediation (namespace/name) waits for approval since `since` (epoch ms), or no longer waits (undefined). */
  setAwaitingApproval(key: string, since: number | undefined): void {
    if (since === undefined) this.awaitingSince.delete(key);
    else this.awaitingSince.set(key, since);
  }

  private zeroAlertAndNotificationSeries(): void {
    for (const code of ["200", "400", "401", "413", "429"]) this.alertWebhookRequests.inc({ code }, 0);
    for (const status of ["firing", "resolved"]) this.alertsReceived.inc({ status }, 0);
    for (const sink of NOTIFICATION_SINKS) {
      for (const result of NOTIFICATION_RESULTS) this.notifications.inc({ sink, result }, 0);
    }
  }
}
