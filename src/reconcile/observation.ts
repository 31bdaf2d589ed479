import type { DesiredState, DesiredStateStatus, Drift, InvariantStatus } from "../api/desired-state.js";
import type { ContainerSnapshot, DockerObserver, PrometheusClient, QueryResult } from "../observe/types.js";
import type { Degradation } from "./conditions.js";
import { computeDrift } from "./drift.js";
import { evaluateCondition, nextInvariantStatus } from "./invariants.js";
import { inDockerTarget } from "./target.js";

export interface Observation {
  /** The target's containers, or undefined when Docker could not be observed. */
  containers: ContainerSnapshot[] | undefined;
  invariants: InvariantStatus[];
  queryResults: Map<string, QueryResult>;
  degradations: Degradation[];
}

/**
 * Observes what a DesiredState declares: its containers from the Docker cache and its
 * invariants from Prometheus. Used by the reconciler each time, and by the agent to verify
 * a fix against the same signals that opened the incident.
 */
export class SystemObserver {
  constructor(
    private readonly docker: DockerObserver,
    private readonly prometheus: PrometheusClient | undefined,
  ) {}

  async observe(
    desiredState: DesiredState,
    status: DesiredStateStatus,
    now: Date,
    signal: AbortSignal,
  ): Promise<Observation> {
    const degradations: Degradation[] = [];
    const connection = this.docker.connection();
    let containers: ContainerSnapshot[] | undefined;
    if (desiredState.spec.target.kubernetes) {
      degradations.push({ reason: "UnsupportedTarget", message: "Kubernetes targets (Deployments, StatefulSets, Pods) are not supported in this release; use a docker target" });
    } else if (connection.state === "connected" && this.docker.synced()) {
      containers = this.docker.containers().filter((c) => inDockerTarget(desiredState.spec.target, c));
    } else {
      const why = connection.state === "disconnected" ? connection.error : "still connecting";
      degradations.push({ reason: "DockerUnavailable", message: `cannot observe Docker: ${why}` });
    }
    const queryResults = new Map<string, QueryResult>();
    const invariants = await Promise.all(
      desiredState.spec.invariants.map(async (spec) => {
        const result = await this.query(spec.query, signal);
        queryResults.set(spec.name, result);
        const previous = status.invariants.find((i) => i.name === spec.name);
        return nextInvariantStatus(previous, spec, evaluateCondition(spec, result), now);
      }),
    );
    const failed = [...queryResults.values()].find((r): r is Extract<QueryResult, { ok: false }> => !r.ok);
    if (failed) degradations.push({ reason: "PrometheusUnavailable", message: failed.error });
    return { containers, invariants, queryResults, degradations };
  }

  private async query(expr: string, signal: AbortSignal): Promise<QueryResult> {
    if (!this.prometheus) {
      return { ok: false, error: "no Prometheus URL is configured (steward run --prometheus-url)" };
    }
    return this.prometheus.query(expr, signal);
  }


  /** Observes and computes the drift, as the reconciler does. */
  async drift(desiredState: DesiredState, status: DesiredStateStatus, now: Date, signal: AbortSignal): Promise<{ drift: Drift[]; observation: Observation }> {
    const observation = await this.observe(desiredState, status, now, signal);
    const drift = computeDrift({
      services: desiredState.spec.services,
      containers: observation.containers,
      invariants: observation.invariants,
      previous: status.drift,
      now,
    });
    return { drift, observation };
  }
}
