import type { ServiceSpec } from "../../src/api/desired-state.js";
import type { AgentRemediation, RemediationStatus } from "../../src/api/remediation.js";
import type { ContainerSnapshot, DockerObserver } from "../../src/observe/types.js";
import { emptyRemediationStatus } from "../../src/reconcile/remediations.js";

export function container(name: string, overrides: Partial<ContainerSnapshot> = {}): ContainerSnapshot {
  return {
    id: `id-${name}`,
    name,
    image: "steward-demo/etcd:3.4",
    labels: { "com.docker.compose.project": "etcd", "com.docker.compose.service": name },
    project: "etcd",
    service: name,
    state: "running",
    health: "healthy",
    exitCode: 0,
    restartCount: 0,
    oomKilled: false,
    ...overrides,
  };
}

export function service(name: string, overrides: Partial<ServiceSpec> = {}): ServiceSpec {
  return { name, replicas: 1, running: true, healthy: true, ...overrides };
}

/** A connected, synced Docker observer that shows `containers()` (the observer interface, not Docker). */
export function dockerShowing(containers: () => ContainerSnapshot[]): DockerObserver {
  return {
    start: () => Promise.resolve(),
    close: () => Promise.resolve(),
    subscribe: () => () => undefined,
    containers,
    synced: () => true,
    connection: () => ({ state: "connected", since: "2026-01-01T00:00:00.000Z" }),
  };
}

/**
 * A remediation of DesiredState `ds` named `r`, opened (openedAt set) with `status` over
 * an empty status; without a status when `status` is undefined (not yet born).
 */
export function openRemediation(
  status: Partial<RemediationStatus> | undefined,
  meta: Partial<AgentRemediation["metadata"]> = {},
): AgentRemediation {
  return {
    apiVersion: "steward.dev/v1alpha1",
    kind: "AgentRemediation",
    metadata: { name: "r", namespace: "default", generation: 1, ...meta },
    spec: {
      desiredStateRef: { name: "ds", namespace: "default" },
      fingerprint: "f",
      reason: "NoSimpleFix",
      drift: [],
      policyRef: "default",
      mode: "auto",
      maxAttempts: 2,
    },
    status:
      status === undefined
        ? undefined
        : { ...emptyRemediationStatus(), openedAt: "2026-11-24T10:00:00.000Z", ...status },
  };
}
