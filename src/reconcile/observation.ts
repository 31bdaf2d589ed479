import type { DesiredState, DesiredStateStatus, Drift, InvariantStatus } from "../api/desired-state.js";
import type {
  ContainerSnapshot,
  DockerObserver,
  KubernetesObserver,
  PrometheusClient,
  QueryOptions,
  QueryResult,
} from "../observe/types.js";
import type { Degradation } from "./conditions.js";
import { computeDrift } from "./drift.js";
import { evaluateCondition, nextInvariantStatus } from "./invariants.js";
import { inDockerTarget } from "./target.js";
import { inKubernetesTarget, type WorkloadObservation } from "./workload-drift.js";

export interface Observation {
  /** A Docker target's containers, or undefined when Docker could not be observed. */
  containers: ContainerSnapshot[] | undefined;
  /** A Kubernetes target's workloads and pods, or undefined when they could not be observed. */
  workloads?: WorkloadObservation;
  invariants: InvariantStatus[];
  queryResults: Map<string, QueryResult>;
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
}

/**
 * Observes what a DesiredState declares: its containers from the Docker cache or its
 * workloads from the Kubernetes cache, and its invariants from Prometheus. Used by the
 * reconciler each time, and by the agent to verify a fix against the same signals that
 * opened the incident.
 */
export class SystemObserver {
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
    return { containers, workloads, invariants, queryResults, degradations };
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
    const workloads = {
      workloads: view.workloads.filter((w) => inKubernetesTarget(target, w)),
      pods: view.pods.filter((p) => inKubernetesTarget(target, p)),
    };
    return { containers: undefined, workloads };
  }

  private observeContainers(
    target: DesiredState["spec"]["target"],
  ): Pick<Observation, "containers"> | { degradation: Degradation } {
    const { docker } = this.observers;
    const connection = docker?.connection();
    if (docker && connection?.state === "connected" && docker.synced()) {
      return { containers: docker.containers().filter((c) => inDockerTarget(target, c)) };
    }
    const why = !connection
      ? "this Steward does not observe Docker (steward run --targets docker)"
      : connection.state === "disconnected"
        ? connection.error
        : "still connecting";
    return { degradation: { reason: "DockerUnavailable", message: `cannot observe Docker: ${why}` } };
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
      previous: status.drift,
      now,
    });
    return { drift, observation };
  }
}
