import type { DesiredState, DesiredStateStatus, Drift, InvariantStatus, Target } from "../api/desired-state.js";
import type {
  AlertObserver,
  AlertStatusSource,
  ContainerSnapshot,
  DockerObserver,
  KubernetesObserver,
  PrometheusClient,
  QueryOptions,
  QueryResult,
  ReceivedAlert,
} from "../observe/types.js";
import type { DriftWithEvidence } from "../api/remediation.js";
import type { Degradation } from "./conditions.js";
import { alertFingerprintOf, computeDrift, matchingAlertSpec } from "./drift.js";
import { evaluateCondition, nextInvariantStatus } from "./invariants.js";
import { inDockerTarget } from "./target.js";
import { targetWorkloads, type WorkloadObservation } from "./workload-drift.js";

export interface Observation {
  /** A Docker target's containers, or undefined when Docker could not be observed. */
  containers: ContainerSnapshot[] | undefined;
  /** A Kubernetes target's workloads and pods, or undefined when they could not be observed. */
  workloads?: WorkloadObservation;
  invariants: InvariantStatus[];
  queryResults: Map<string, QueryResult>;
  /** Firing alerts that the DesiredState's spec.alerts match. */
  alerts: ReceivedAlert[];
  /** Whether an alert is known to have resolved (cleared drift); false when Steward cannot tell. */
  alertResolved: (fingerprint: string) => boolean;
  degradations: Degradation[];
}

/** Whether the target's containers or workloads were observed completely. */
export function targetObserved(observation: Pick<Observation, "containers" | "workloads">): boolean {
  return observation.containers !== undefined || observation.workloads !== undefined;
}

/** The observers a SystemObserver reads; a Steward may run without Docker or without Kubernetes. */
export interface ObserverSet {
  docker?: DockerObserver;
  kubernetes?: KubernetesObserver;
  /**
   * Undefined when no Prometheus URL is configured: every invariant is then Unknown. The
   * reconciler reads through a QueryEvaluator (the last slot's results); the agent's
   * verification through the plain client (Prometheus's answer now).
   */
  prometheus?: PrometheusClient;
  /** The alerts Alertmanager posts (steward run --alerts-addr); undefined when off. */
  alerts?: AlertObserver;
  /** Asks Alertmanager's API or Prometheus whether an alert still fires (verification). */
  alertStatus?: AlertStatusSource;
}

/**
 * Observes what a DesiredState declares: its containers from the Docker cache or its
 * workloads from the Kubernetes cache, and its invariants from Prometheus. Used by the
 * reconciler each time, and by the agent to verify a fix against the same signals that
 * opened the incident.
 */
export class SystemObserver {
  /** targetContainers' memo: the Docker cache version it was worked out for, by selector. */
  private selected: { of: readonly ContainerSnapshot[]; byTarget: Map<string, ContainerSnapshot[]> } | undefined;

  constructor(private readonly observers: ObserverSet) {}

  async observe(
    desiredState: DesiredState,
    status: DesiredStateStatus,
    now: Date,
    signal: AbortSignal,
  ): Promise<Observation> {
    const degradations: Degradation[] = [];
    const { containers, workloads } = this.observeTarget(desiredState, degradations);
    const queryResults = new Map<string, QueryResult>();
    const invariants = await Promise.all(
      desiredState.spec.invariants.map(async (spec) => {
        const previous = status.invariants.find((i) => i.name === spec.name);
        // A Pending invariant is judged again when its `for` window ends: on Prometheus's answer then, not the last slot's.
        const result = await this.query(spec.query, signal, { fresh: previous?.state === "Pending" });
        queryResults.set(spec.name, result);
        return nextInvariantStatus(previous, spec, evaluateCondition(spec, result), now);
      }),
    );
    const failed = [...queryResults.values()].find((r): r is Extract<QueryResult, { ok: false }> => !r.ok);
    if (failed) degradations.push({ reason: "PrometheusUnavailable", message: failed.error });
    return {
      containers,
      workloads,
      invariants,
      queryResults,
      degradations,
      ...this.observeAlerts(desiredState, degradations),
    };
  }

  private observeAlerts(
    desiredState: DesiredState,
    degradations: Degradation[],
  ): Pick<Observation, "alerts" | "alertResolved"> {
    const { alerts } = this.observers;
    const specs = desiredState.spec.alerts;
    if (!alerts) {
      if (specs.length > 0) {
        const message = "this Steward receives no Alertmanager alerts (steward run --alerts-addr)";
        degradations.push({ reason: "AlertsUnavailable", message });
      }
      return { alerts: [], alertResolved: () => false };
    }
    const firing = specs.length === 0 ? [] : alerts.firing().filter((a) => matchingAlertSpec(specs, a.labels));
    return { alerts: firing, alertResolved: (fingerprint) => alerts.resolved(fingerprint) };
  }

  /**
   * Whether each alert behind `drift` has resolved, asked of Alertmanager's API or
   * Prometheus (not the webhook cache, which hears of it only at Alertmanager's next
   * group_interval); an alert neither can speak for falls back to the cache.
   */
  async freshAlertResolution(
    drift: readonly DriftWithEvidence[],
    signal: AbortSignal,
  ): Promise<(fingerprint: string) => boolean> {
    const resolved = new Set<string>();
    for (const d of drift) {
      const fingerprint = alertFingerprintOf(d);
      if (d.type === "AlertFiring" && fingerprint && (await this.alertResolvedNow(d, fingerprint, signal)))
        resolved.add(fingerprint);
    }
    const { alerts } = this.observers;
    return (fingerprint) => resolved.has(fingerprint) || (alerts?.resolved(fingerprint) ?? false);
  }

  private async alertResolvedNow(drift: DriftWithEvidence, fingerprint: string, signal: AbortSignal): Promise<boolean> {
    const { alertStatus, alerts } = this.observers;
    if (!alertStatus) return false;
    // The cache's labels are unredacted; the evidence's may have a value redacted.
    const cached = alerts?.firing().find((a) => a.fingerprint === fingerprint);
    const labels = cached?.labels ?? drift.evidence.alert?.labels ?? {};
    const resolved = (await alertStatus.stillFiring({ fingerprint, labels }, signal)) === false;
    if (resolved) alerts?.confirmResolved(fingerprint);
    return resolved;
  }

  private observeTarget(
    desiredState: DesiredState,
    degradations: Degradation[],
  ): Pick<Observation, "containers" | "workloads"> {
    const { target } = desiredState.spec;
    const observed = target.kubernetes
      ? this.observeWorkloads(target, target.kubernetes.namespace)
      : this.observeContainers(target);
    if ("degradation" in observed) {
      degradations.push(observed.degradation);
      return { containers: undefined };
    }
    return observed;
  }

  private observeWorkloads(
    target: DesiredState["spec"]["target"],
    namespace: string,
  ): Pick<Observation, "containers" | "workloads"> | { degradation: Degradation } {
    const { kubernetes } = this.observers;
    if (!kubernetes) {
      const message = "this Steward does not observe Kubernetes workloads (steward run --targets kubernetes)";
      return { degradation: { reason: "KubernetesUnavailable", message } };
    }
    const view = kubernetes.namespace(namespace);
    if (!view.synced) {
      const message = `cannot observe namespace ${namespace}: ${view.error ?? "still listing"}`;
      return { degradation: { reason: "KubernetesUnavailable", message } };
    }
    return { containers: undefined, workloads: targetWorkloads(target, view) };
  }

  private observeContainers(
    target: DesiredState["spec"]["target"],
  ): Pick<Observation, "containers"> | { degradation: Degradation } {
    const { docker } = this.observers;
    const connection = docker?.connection();
    if (docker && connection?.state === "connected" && docker.synced()) {
      return { containers: this.targetContainers(docker.containers(), target) };
    }
    const why = !connection
      ? "this Steward does not observe Docker (steward run --targets docker)"
      : connection.state === "disconnected"
        ? connection.error
        : "still connecting";
    return { degradation: { reason: "DockerUnavailable", message: `cannot observe Docker: ${why}` } };
  }

  /**
   * A target's containers, worked out once per Docker cache version and selector: at a cold
   * start every DesiredState filtered every container (1,000 × 500), most of them with the
   * same selector. A copy, so a caller's changes stay its own.
   */
  private targetContainers(all: readonly ContainerSnapshot[], target: Target): ContainerSnapshot[] {
    if (this.selected?.of !== all) this.selected = { of: all, byTarget: new Map() };
    const key = JSON.stringify([target.docker?.project, target.docker?.selector]);
    let containers = this.selected.byTarget.get(key);
    if (!containers) {
      containers = all.filter((c) => inDockerTarget(target, c));
      this.selected.byTarget.set(key, containers);
    }
    return [...containers];
  }

  private async query(expr: string, signal: AbortSignal, options: QueryOptions): Promise<QueryResult> {
    const { prometheus } = this.observers;
    if (!prometheus) return { ok: false, error: "no Prometheus URL is configured (steward run --prometheus-url)" };
    return prometheus.query(expr, signal, options);
  }

  /** Observes and computes the drift, as the reconciler does. */
  async drift(
    desiredState: DesiredState,
    status: DesiredStateStatus,
    now: Date,
    signal: AbortSignal,
  ): Promise<{ drift: Drift[]; observation: Observation }> {
    const observation = await this.observe(desiredState, status, now, signal);
    const drift = computeDrift({
      services: desiredState.spec.services,
      containers: observation.containers,
      workloads: observation.workloads,
      invariants: observation.invariants,
      alerts: { specs: desiredState.spec.alerts, firing: observation.alerts },
      previous: status.drift,
      now,
    });
    return { drift, observation };
  }
}
