/**
 * What the agent may change and read, by identity, as observed at the time of each call.
 *
 * A name is not an identity. Docker resolves a reference as a full ID, a name or any unique
 * ID prefix, so `redis` or `db` can reach a container of another project; a Kubernetes
 * label can be copied onto any pod. So "own" is never "declared by name": it is the set of
 * objects observed in the target right now — a container with the target's labels that
 * belongs to a declared service; a workload the DesiredState declares, in the target, and
 * the pods its controller owns through ownerReferences — and every reference the model
 * gives is resolved against everything a reference could reach, denied when any reading of
 * it lands outside.
 */
import type { DesiredState } from "../api/desired-state.js";
import type { RemediationPolicySpec } from "../api/policy.js";
import type { ContainerSnapshot, NamespaceView } from "../observe/types.js";
import { containersOfService } from "../reconcile/drift.js";
import { inDockerTarget } from "../reconcile/target.js";
import {
  inKubernetesTarget,
  podsOf,
  targetWorkloads,
  workloadOfService,
  workloadSubject,
} from "../reconcile/workload-drift.js";

/** What the agent may do to an object: change it (and read it), only read it, or nothing. */
export type Access = "change" | "read" | "none";

/**
 * What the agent may change: the objects of the declared services (the default), or every
 * object the target selects — for a remediation an Alertmanager alert opened, which names no
 * service: the DesiredState claims the alert for its whole target (spec.alerts). Either way
 * by identity, within the target alone, and each change still judged by the policy.
 */
export type Reach = "services" | "target";

/** One object a reference could reach. */
export interface ScopedObject {
  /** What a call is sent to: a container's full ID; `pod/web-1`, `deployment/web`, `replicaset/web-7d9`. */
  id: string;
  /** The references that name it exactly: a container's name; for Kubernetes its id. */
  names: readonly string[];
  /** A Kubernetes object's uid: a precondition of a change, so a replacement of the same name is not touched. */
  uid?: string;
  access: Access;
  /** How a person reads it in a denial. */
  label: string;
}

/** The agent's reach for one call: computed from the observation at the time of the call. */
export interface AgentScope {
  target: "docker" | "kubernetes";
  /** Every object a reference could reach: every container on the host; every object of the namespace. */
  objects: readonly ScopedObject[];
  /** Network destinations a shell command may name: the policy's, and those the target's members advertise. */
  endpoints: readonly string[];
  /** What the target's objects hold that is secret by default: redacted in every tool result. */
  secrets: readonly string[];
}

export type Resolution = { ok: true; object: ScopedObject } | { ok: false; reason: string };

/** What an inspect of a container yields for the scope; fixed for the container's life (its config never changes). */
export interface ContainerFacts {
  secrets: readonly string[];
  endpoints: readonly string[];
}

const HEX = /^[0-9a-f]+$/;

const allows = (access: Access, need: "change" | "read"): boolean =>
  need === "change" ? access === "change" : access !== "none";

/** Every object `reference` could mean, the way Docker (ID, name, ID prefix) or the kube tools (`kind/name`) resolve it. */
function candidates(scope: AgentScope, reference: string): ScopedObject[] {
  const prefix = scope.target === "docker" && HEX.test(reference);
  return scope.objects.filter(
    (o) => o.id === reference || o.names.includes(reference) || (prefix && o.id.startsWith(reference)),
  );
}

function outsideReason(
  reference: string,
  object: ScopedObject,
  how: { many: boolean; need: "change" | "read" },
): string {
  const what =
    object.label === reference
      ? `"${reference}"`
      : `"${reference}" ${how.many ? "could mean" : "is"} ${object.label}, which`;
  return how.need === "change"
    ? `${what} is not one of this DesiredState's own ${ownNoun(object.id.includes("/") ? "kubernetes" : "docker")}`
    : `${what} is outside this DesiredState's target (reads are limited to the target unless the policy sets reads: all)`;
}

const ownNoun = (target: AgentScope["target"]): string =>
  target === "kubernetes" ? "workloads or the pods they own" : "containers";

function notFoundReason(scope: AgentScope, reference: string, need: "change" | "read"): string {
  return need === "change"
    ? `"${reference}" is not one of this DesiredState's own ${ownNoun(scope.target)}: nothing by that name is observed in its target now`
    : `"${reference}" is not in this DesiredState's target: nothing by that name is observed there now`;
}

/**
 * The one object `reference` names, if every reading of it is an object the call may
 * `need`: a reference that could also mean something outside (a name that is another
 * container's ID prefix too, a container gone and another of that name elsewhere) is
 * denied, and so is one that could mean several of ours.
 */
export function resolveReference(scope: AgentScope, reference: string, need: "change" | "read"): Resolution {
  const found = candidates(scope, reference);
  if (found.length === 0) return { ok: false, reason: notFoundReason(scope, reference, need) };
  const outside = found.find((o) => !allows(o.access, need));
  if (outside) return { ok: false, reason: outsideReason(reference, outside, { many: found.length > 1, need }) };
  if (found.length > 1) {
    const all = found.map((o) => o.label).join(", ");
    return { ok: false, reason: `"${reference}" could mean any of ${all}; name one by its full ID` };
  }
  return { ok: true, object: found[0] as ScopedObject };
}

/** Whether the object with this id may be read (listing tools show only those). */
export function readable(scope: AgentScope, id: string): boolean {
  return scope.objects.some((o) => o.id === id && o.access !== "none");
}

/**
 * A Docker target's scope: every container on the host, with access `change` for the
 * target's containers of declared services, `read` for the target's others (every
 * container with `reads: all`), `none` otherwise. `facts` holds what inspect said of the
 * target's containers.
 */
export function dockerScope(input: {
  desiredState: DesiredState;
  policy: RemediationPolicySpec;
  containers: readonly ContainerSnapshot[];
  facts: ReadonlyMap<string, ContainerFacts>;
  reach?: Reach;
}): AgentScope {
  const { desiredState, policy } = input;
  const target = input.containers.filter((c) => inDockerTarget(desiredState.spec.target, c));
  const own = new Set(
    input.reach === "target"
      ? target.map((c) => c.id)
      : desiredState.spec.services.flatMap((s) => containersOfService(s, target).map((c) => c.id)),
  );
  const inTarget = new Set(target.map((c) => c.id));
  const wide = policy.reads === "all";
  const objects = input.containers.map((c) => ({
    id: c.id,
    names: [c.name],
    access: own.has(c.id) ? "change" : inTarget.has(c.id) || wide ? "read" : "none",
    label: `container ${c.name} (${c.project ? `compose project ${c.project}, ` : ""}ID ${c.id.slice(0, 12)})`,
  })) satisfies ScopedObject[];
  const facts = target.map((c) => input.facts.get(c.id)).filter((f) => f !== undefined);
  return {
    target: "docker",
    objects,
    endpoints: [...policy.endpoints, ...facts.flatMap((f) => f.endpoints)],
    secrets: facts.flatMap((f) => f.secrets),
  };
}

/**
 * A Kubernetes target's scope: the namespace's workloads, ReplicaSets and pods. `change`:
 * a workload a service declares, in the target, and the pods it owns through
 * ownerReferences (Pod → ReplicaSet → Deployment, Pod → StatefulSet); `read`: the rest of
 * the target (the whole namespace with `reads: all`); `none` otherwise.
 */
export function kubernetesScope(input: {
  desiredState: DesiredState;
  policy: RemediationPolicySpec;
  view: NamespaceView;
  reach?: Reach;
}): AgentScope {
  const { desiredState, policy, view } = input;
  const target = desiredState.spec.target;
  const observed = targetWorkloads(target, view);
  const declared =
    input.reach === "target"
      ? observed.workloads
      : desiredState.spec.services.flatMap((s) => workloadOfService(s, observed) ?? []);
  const ownWorkloads = new Set(declared.map(workloadSubject));
  const ownPods = new Set(declared.flatMap((w) => podsOf(w, observed).map((p) => p.uid)));
  const wide = policy.reads === "all";
  const access = (own: boolean, object: { namespace: string; labels: Readonly<Record<string, string>> }): Access =>
    own ? "change" : inKubernetesTarget(target, object) || wide ? "read" : "none";
  const objects: ScopedObject[] = [
    ...view.workloads.map((w) =>
      kubeObject(workloadSubject(w), w.uid, access(ownWorkloads.has(workloadSubject(w)), w)),
    ),
    ...view.replicaSets.map((rs) => kubeObject(`replicaset/${rs.name}`, rs.uid, access(false, rs))),
    ...view.pods.map((p) => kubeObject(`pod/${p.name}`, p.uid, access(ownPods.has(p.uid) && p.uid !== "", p))),
  ];
  return {
    target: "kubernetes",
    objects,
    endpoints: [...policy.endpoints],
    secrets: observed.pods.flatMap((p) => p.secretValues),
  };
}

const kubeObject = (id: string, uid: string, access: Access): ScopedObject => ({
  id,
  names: [id],
  uid,
  access,
  label: id,
});

/**
 * The client URLs an etcd member advertises, from its command line
 * (`--advertise-client-urls=…` or with the value as the next argument) or environment
 * (`ETCD_ADVERTISE_CLIENT_URLS=…`): the endpoints an etcdctl call in the target may name.
 */
export function advertisedEndpoints(args: readonly string[], env: readonly string[]): string[] {
  const values: string[] = [];
  args.forEach((arg, i) => {
    if (arg.startsWith("--advertise-client-urls=")) values.push(arg.slice("--advertise-client-urls=".length));
    else if (arg === "--advertise-client-urls" && args[i + 1] !== undefined) values.push(args[i + 1] as string);
  });
  for (const entry of env) {
    if (entry.startsWith("ETCD_ADVERTISE_CLIENT_URLS=")) values.push(entry.slice("ETCD_ADVERTISE_CLIENT_URLS=".length));
  }
  return values
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter((v) => v !== "");
}
