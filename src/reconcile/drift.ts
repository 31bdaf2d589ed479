import { createHash } from "node:crypto";
import { Matchers } from "../api/alert-matchers.js";
import { Severity, type AlertSpec } from "../api/alerts.js";
import type { Drift, DriftType, InvariantStatus, ServiceSpec } from "../api/desired-state.js";
import type { ContainerSnapshot, ReceivedAlert } from "../observe/types.js";
import { workloadDrift, type WorkloadObservation } from "./workload-drift.js";

/** What computeDrift needs to know; everything observed is already in here. */
export interface DriftInput {
  services: readonly ServiceSpec[];
  /** A Docker target's containers, or undefined when Docker could not be observed. */
  containers: readonly ContainerSnapshot[] | undefined;
  /** A Kubernetes target's workloads and pods, or undefined when they could not be observed. */
  workloads?: WorkloadObservation;
  invariants: readonly InvariantStatus[];
  /** The DesiredState's spec.alerts, and the alerts firing now (all of them; matching is done here). */
  alerts?: { specs: readonly AlertSpec[]; firing: readonly ReceivedAlert[] };
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
  const alerts = input.alerts ? alertDrift(input.alerts.specs, input.alerts.firing) : [];
  const nowText = input.now.toISOString();
  const withSince = found.map((drift) => {
    const before = input.previous.find((p) => p.type === drift.type && p.subject === drift.subject);
    const invariant =
      drift.type === "InvariantViolated"
        ? input.invariants.find((i) => `invariant/${i.name}` === drift.subject)
        : undefined;
    return { ...drift, since: before?.since ?? invariant?.since ?? nowText };
  });
  return [...withSince, ...alerts];
}

/**
 * The spec.alerts entry an alert belongs to: the first whose alertname and matchers it
 * satisfies; undefined when none does.
 */
export function matchingAlertSpec(
  specs: readonly AlertSpec[],
  labels: Readonly<Record<string, string>>,
): AlertSpec | undefined {
  return specs.find((spec) => labels.alertname === spec.alertname && Matchers.parse(spec.matchers).matches(labels));
}

/**
 * One AlertFiring drift per firing alert that a spec.alerts entry matches, subject
 * `alert/<fingerprint>` (so each alert is its own incident), since the alert's startsAt. Pure.
 */
export function alertDrift(specs: readonly AlertSpec[], firing: readonly ReceivedAlert[]): Drift[] {
  if (specs.length === 0) return [];
  return firing
    .filter((alert) => alert.status === "firing" && matchingAlertSpec(specs, alert.labels) !== undefined)
    .sort((a, b) => a.fingerprint.localeCompare(b.fingerprint))
    .map((alert) => ({
      type: "AlertFiring" as const,
      subject: `alert/${alert.fingerprint}`,
      expected: "not firing",
      observed: `${alert.labels.alertname ?? "alert"} firing`,
      since: alert.startsAt,
    }));
}

/** The subject's alert fingerprint for alert drifts (`alert/1a2b…` → `1a2b…`). */
export function alertFingerprintOf(drift: Pick<Drift, "subject">): string | undefined {
  return drift.subject.startsWith("alert/") ? drift.subject.slice("alert/".length) : undefined;
}

/**
 * The severity an alert carries into Steward: its spec.alerts entry's, else its own
 * `severity` label when that is info, warning or critical, else warning.
 */
export function alertSeverity(spec: AlertSpec | undefined, labels: Readonly<Record<string, string>>): Severity {
  if (spec?.severity) return spec.severity;
  const own = Severity.safeParse(labels.severity);
  return own.success ? own.data : "warning";
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
