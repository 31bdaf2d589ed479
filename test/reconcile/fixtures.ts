import type { ServiceSpec } from "../../src/api/desired-state.js";
import type { ContainerSnapshot } from "../../src/observe/types.js";

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
