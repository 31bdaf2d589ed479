import { secretArguments } from "../../text/redact.js";
import type {
  OwnerReference,
  PodContainerSnapshot,
  PodSnapshot,
  ReplicaSetSnapshot,
  WorkloadSnapshot,
} from "../types.js";

/**
 * Converts Deployments, StatefulSets, ReplicaSets and Pods, as the API server sends them (JSON from a
 * watch, or the client's typed objects from a list, whose timestamps are Dates), into
 * snapshots. Pure; anything malformed gives undefined rather than a throw.
 */

type Obj = Record<string, unknown>;

const isObj = (value: unknown): value is Obj => typeof value === "object" && value !== null && !Array.isArray(value);
const obj = (value: unknown): Obj => (isObj(value) ? value : {});
const num = (value: unknown, fallback = 0): number =>
  typeof value === "number" && Number.isFinite(value) ? value : fallback;
const str = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);
const time = (value: unknown): string | undefined => (value instanceof Date ? value.toISOString() : str(value));

function labels(value: unknown): Record<string, string> {
  return Object.fromEntries(
    Object.entries(obj(value)).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
  );
}

/** What every snapshot takes from `metadata`; undefined without a name and namespace. */
function identityOf(
  metadata: Obj,
): { namespace: string; name: string; uid: string; labels: Record<string, string> } | undefined {
  const name = str(metadata.name);
  const namespace = str(metadata.namespace);
  if (!name || !namespace) return undefined;
  return { namespace, name, uid: str(metadata.uid) ?? "", labels: labels(metadata.labels) };
}

export function toWorkloadSnapshot(kind: WorkloadSnapshot["kind"], raw: unknown): WorkloadSnapshot | undefined {
  const metadata = obj(obj(raw).metadata);
  const spec = obj(obj(raw).spec);
  const status = obj(obj(raw).status);
  const identity = identityOf(metadata);
  if (!identity) return undefined;
  return {
    kind,
    ...identity,
    selector: labels(obj(spec.selector).matchLabels),
    replicas: num(spec.replicas, 1),
    readyReplicas: num(status.readyReplicas),
    updatedReplicas: num(status.updatedReplicas),
    generation: num(metadata.generation),
    observedGeneration: num(status.observedGeneration),
  };
}

export function toPodSnapshot(raw: unknown): PodSnapshot | undefined {
  const metadata = obj(obj(raw).metadata);
  const status = obj(obj(raw).status);
  const identity = identityOf(metadata);
  if (!identity) return undefined;
  const conditions = Array.isArray(status.conditions) ? status.conditions.map(obj) : [];
  const statuses = Array.isArray(status.containerStatuses) ? status.containerStatuses.map(obj) : [];
  return {
    ...identity,
    ownerReferences: ownerReferences(metadata.ownerReferences),
    secretValues: podSecretValues(obj(obj(raw).spec)),
    phase: str(status.phase) ?? "Unknown",
    ready: conditions.some((c) => c.type === "Ready" && c.status === "True"),
    terminating: metadata.deletionTimestamp !== undefined && metadata.deletionTimestamp !== null,
    containers: statuses.map(toContainerSnapshot),
    startTime: time(status.startTime),
  };
}

export function toReplicaSetSnapshot(raw: unknown): ReplicaSetSnapshot | undefined {
  const metadata = obj(obj(raw).metadata);
  const identity = identityOf(metadata);
  if (!identity) return undefined;
  return {
    ...identity,
    ownerReferences: ownerReferences(metadata.ownerReferences),
  };
}

/** Well-formed references only: one without a kind, name or uid names no owner. */
function ownerReferences(value: unknown): OwnerReference[] {
  if (!Array.isArray(value)) return [];
  return value.map(obj).flatMap((ref) => {
    const [kind, name, uid] = [str(ref.kind), str(ref.name), str(ref.uid)];
    return kind && name && uid ? [{ kind, name, uid, controller: ref.controller === true }] : [];
  });
}

/**
 * Literal env values and secret arguments of every container the spec runs (init and
 * ephemeral ones too). `valueFrom` references carry no value here, and are not resolved.
 */
function podSecretValues(spec: Obj): string[] {
  const containers = [spec.containers, spec.initContainers, spec.ephemeralContainers]
    .flatMap((list): unknown[] => (Array.isArray(list) ? (list as unknown[]) : []))
    .map(obj);
  const values = containers.flatMap((c) => [
    ...(Array.isArray(c.env) ? c.env.map((e) => str(obj(e).value) ?? "") : []),
    ...secretArguments([...strings(c.command), ...strings(c.args)]),
  ]);
  return [...new Set(values.filter((v) => v.length > 0))];
}

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];

function toContainerSnapshot(status: Obj): PodContainerSnapshot {
  const state = obj(status.state);
  const current = (["running", "waiting", "terminated"] as const).find((key) => isObj(state[key])) ?? "unknown";
  const terminated = obj(obj(status.lastState).terminated);
  return {
    name: str(status.name) ?? "",
    ready: status.ready === true,
    restartCount: num(status.restartCount),
    state: current,
    reason: current === "unknown" ? undefined : str(obj(state[current]).reason),
    lastTermination:
      Object.keys(terminated).length > 0
        ? {
            reason: str(terminated.reason),
            exitCode: num(terminated.exitCode),
            finishedAt: time(terminated.finishedAt),
          }
        : undefined,
  };
}
