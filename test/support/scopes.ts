/**
 * Observations for the agent's scope, and the scope the real ownership computation
 * (src/agent/ownership.ts) makes of them: the policy tests and the adversarial suite judge
 * calls against what dockerScope and kubernetesScope say, never against a hand-made set.
 */
import { createHash } from "node:crypto";
import { DesiredState } from "../../src/api/desired-state.js";
import { RemediationPolicySpec } from "../../src/api/policy.js";
import { DEFAULT_POLICY } from "../../src/api/default-policy.js";
import { dockerScope, kubernetesScope, type AgentScope, type ContainerFacts } from "../../src/agent/ownership.js";
import type {
  ContainerSnapshot,
  NamespaceView,
  OwnerReference,
  PodSnapshot,
  ReplicaSetSnapshot,
  WorkloadSnapshot,
} from "../../src/observe/types.js";

/** A stable 64-hex ID for a name (or `prefix` followed by the name's hash, to make an ID start a certain way). */
export function containerId(name: string, prefix = ""): string {
  return `${prefix}${createHash("sha256").update(name).digest("hex")}`.slice(0, 64);
}

export function container(
  name: string,
  options: { project?: string; service?: string; id?: string; labels?: Record<string, string> } = {},
): ContainerSnapshot {
  const labels: Record<string, string> = { ...options.labels };
  if (options.project) labels["com.docker.compose.project"] = options.project;
  if (options.service) labels["com.docker.compose.service"] = options.service;
  return {
    id: options.id ?? containerId(name),
    name,
    image: "steward-demo/etcd:3.4",
    labels,
    ...(options.project ? { project: options.project } : {}),
    ...(options.service ? { service: options.service } : {}),
    state: "running",
    health: "none",
    exitCode: 0,
    restartCount: 0,
    oomKilled: false,
  };
}

export function desiredState(target: DesiredState["spec"]["target"], services: readonly string[]): DesiredState {
  return DesiredState.parse({
    apiVersion: "steward.dev/v1alpha1",
    kind: "DesiredState",
    metadata: { name: "ds", namespace: "default" },
    spec: { target, services: services.map((name) => ({ name })) },
  });
}

export interface DockerWorld {
  /** The target's compose project. */
  project: string;
  /** The services the DesiredState declares. */
  services: readonly string[];
  /** Every container on the host. */
  containers: readonly ContainerSnapshot[];
  /** What inspect says of the target's containers, by name. */
  facts?: Readonly<Record<string, ContainerFacts>>;
  policy?: RemediationPolicySpec;
}

export function dockerWorldScope(world: DockerWorld): AgentScope {
  const facts = new Map<string, ContainerFacts>();
  for (const c of world.containers) {
    const known = world.facts?.[c.name];
    if (known) facts.set(c.id, known);
  }
  return dockerScope({
    desiredState: desiredState({ docker: { project: world.project } }, world.services),
    policy: world.policy ?? DEFAULT_POLICY,
    containers: world.containers,
    facts,
  });
}

const uidOf = (kind: string, name: string): string => {
  const h = createHash("sha256").update(`${kind}/${name}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};

export const controllerRef = (kind: string, name: string, uid = uidOf(kind, name)): OwnerReference => ({
  kind,
  name,
  uid,
  controller: true,
});

export function workload(kind: WorkloadSnapshot["kind"], name: string, namespace = "shop"): WorkloadSnapshot {
  return {
    kind,
    namespace,
    name,
    uid: uidOf(kind, name),
    labels: { app: name },
    selector: { app: name },
    replicas: 1,
    readyReplicas: 1,
    updatedReplicas: 1,
    generation: 1,
    observedGeneration: 1,
  };
}

export function replicaSet(name: string, owner: string | undefined, namespace = "shop"): ReplicaSetSnapshot {
  return {
    namespace,
    name,
    uid: uidOf("ReplicaSet", name),
    labels: {},
    ownerReferences: owner ? [controllerRef("Deployment", owner)] : [],
  };
}

export function pod(
  name: string,
  options: {
    owners?: readonly OwnerReference[];
    labels?: Record<string, string>;
    secrets?: string[];
    namespace?: string;
  } = {},
): PodSnapshot {
  return {
    namespace: options.namespace ?? "shop",
    name,
    uid: uidOf("Pod", name),
    labels: options.labels ?? {},
    ownerReferences: options.owners ?? [],
    secretValues: options.secrets ?? [],
    phase: "Running",
    ready: true,
    terminating: false,
    containers: [{ name: "main", ready: true, restartCount: 0, state: "running" }],
  };
}

export interface KubernetesWorld {
  namespace?: string;
  selector?: Record<string, string>;
  services: readonly string[];
  view: Omit<NamespaceView, "synced">;
  policy?: RemediationPolicySpec;
}

export function kubernetesWorldScope(world: KubernetesWorld): AgentScope {
  const namespace = world.namespace ?? "shop";
  return kubernetesScope({
    desiredState: desiredState(
      { kubernetes: { namespace, ...(world.selector ? { selector: world.selector } : {}) } },
      world.services,
    ),
    policy: world.policy ?? DEFAULT_POLICY,
    view: { synced: true, ...world.view },
  });
}
