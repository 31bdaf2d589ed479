import { createHash } from "node:crypto";
import type { Drift, DriftType, InvariantStatus, ServiceSpec } from "../api/desired-state.js";
import type { ContainerSnapshot } from "../observe/types.js";
import { workloadDrift, type WorkloadObservation } from "./workload-drift.js";

/** What computeDrift needs to know; everything observed is already in here. */
export interface DriftInput {
  services: readonly ServiceSpec[];
  /** A Docker target's containers, or undefined when Docker could not be observed. */
  containers: readonly ContainerSnapshot[] | undefined;
  /** A Kubernetes target's workloads and pods, or undefined when they could not be observed. */
  workloads?: WorkloadObservation;
  invariants: readonly InvariantStatus[];
  previous: readonly Drift[];
  now: Date;
}

const NOT_RUNNING = new Set(["created", "exited", "dead", "restarting", "paused"]);

/**
 * The difference between what a DesiredState declares and what was observed. Pure: the
 * same input always gives the same drift. `since` carries over from the previous drift
 * of the same type and subject, so it says when the drift began, not when it was seen last.
 * Invariants that are Unknown or only Pending are not drift.
 */
export function computeDrift(input: DriftInput): Drift[] {
  const found: Omit<Drift, "since">[] = [];
  if (input.containers) {
    for (const service of input.services) found.push(...serviceDrift(service, input.containers));
  }
  if (input.workloads) {
    for (const service of input.services) found.push(...workloadDrift(service, input.workloads));
  }
  for (const invariant of input.invariants) {
    if (invariant.state !== "Violated") continue;
    found.push({
      type: "InvariantViolated",
      subject: `invariant/${invariant.name}`,
      expected: "holds",
      observed: invariant.value ?? invariant.reason ?? "violated",
    });
  }
  const nowText = input.now.toISOString();
  return found.map((drift) => {
    const before = input.previous.find((p) => p.type === drift.type && p.subject === drift.subject);
    const invariant =
      drift.type === "InvariantViolated"
        ? input.invariants.find((i) => `invariant/${i.name}` === drift.subject)
        : undefined;
    return { ...drift, since: before?.since ?? invariant?.since ?? nowText };
  });
}

/** The containers that make up a service: by compose service label, else by container name. */
export function containersOfService(
  service: ServiceSpec,
  containers: readonly ContainerSnapshot[],
): ContainerSnapshot[] {
  const byLabel = containers.filter((c) => c.service === service.name);
  const matched = byLabel.length > 0 ? byLabel : containers.filter((c) => c.name === service.name);
  return [...matched].sort((a, b) => a.name.localeCompare(b.name));
}

function serviceDrift(service: ServiceSpec, all: readonly ContainerSnapshot[]): Omit<Drift, "since">[] {
  const containers = containersOfService(service, all);
  if (!service.running) {
    return containers
      .filter((c) => c.state === "running")
      .map((c) => ({
        type: "ContainerRunning" as const,
        subject: `container/${c.name}`,
        expected: "stopped",
        observed: "running",
      }));
  }
  if (service.replicas === 0) return [];
  const drift: Omit<Drift, "since">[] = [];
  if (containers.length === 0) {
    drift.push({
      type: "ContainerMissing",
      subject: `service/${service.name}`,
      expected: `${service.replicas} running`,
      observed: "no container",
    });
    return drift;
  }
  if (containers.length !== service.replicas) {
    drift.push({
      type: "ReplicasMismatch",
      subject: `service/${service.name}`,
      expected: `${service.replicas} containers`,
      observed: `${containers.length} containers`,
    });
  }
  for (const c of containers) {
    if (NOT_RUNNING.has(c.state)) {
      drift.push({
        type: "ContainerStopped",
        subject: `container/${c.name}`,
        expected: "running",
        observed: describeStopped(c),
      });
    } else if (service.healthy && c.health === "unhealthy") {
      drift.push({
        type: "ContainerUnhealthy",
        subject: `container/${c.name}`,
        expected: "healthy",
        observed: "unhealthy",
      });
    }
  }
  return drift;
}

function describeStopped(c: ContainerSnapshot): string {
  if (c.state === "exited" || c.state === "dead") {
    return `${c.state} (exit code ${c.exitCode}${c.oomKilled ? ", OOM-killed" : ""})`;
  }
  return c.state;
}

/**
 * Identifies "the same drift" across reconciles, restarts of Steward and observed values:
 * the DesiredState, the drift type and the subject; not the observed value or the time.
 */
export function driftFingerprint(desiredState: string, drift: { type: DriftType; subject: string }): string {
  return createHash("sha256").update(`${desiredState}\n${drift.type}\n${drift.subject}`).digest("hex").slice(0, 16);
}

/** The subject's container name for container drifts (`container/etcd0` → `etcd0`). */
export function containerOf(drift: Pick<Drift, "subject">): string | undefined {
  return drift.subject.startsWith("container/") ? drift.subject.slice("container/".length) : undefined;
}
