import { parseWorkloadName, type Drift, type ServiceSpec, type Target } from "../api/desired-state.js";
import type {
  NamespaceView,
  OwnerReference,
  PodSnapshot,
  ReplicaSetSnapshot,
  WorkloadRef,
  WorkloadSnapshot,
} from "../observe/types.js";

/** The workloads and pods of a Kubernetes target's namespace, as observed, and the ReplicaSets that link them. */
export interface WorkloadObservation {
  workloads: readonly WorkloadSnapshot[];
  replicaSets: readonly ReplicaSetSnapshot[];
  pods: readonly PodSnapshot[];
}

/** `deployment/web`: how drift subjects, policy and the agent's tools name a workload. */
export function workloadSubject(workload: Pick<WorkloadRef, "kind" | "name">): string {
  return `${workload.kind.toLowerCase()}/${workload.name}`;
}

/** The workload a drift subject names (`statefulset/db` in namespace ns), if it names one. */
export function workloadOf(subject: string, namespace: string): WorkloadRef | undefined {
  const slash = subject.indexOf("/");
  const prefix = subject.slice(0, slash);
  const kind = prefix === "deployment" ? "Deployment" : prefix === "statefulset" ? "StatefulSet" : undefined;
  return kind ? { kind, namespace, name: subject.slice(slash + 1) } : undefined;
}

function matchesLabels(labels: Readonly<Record<string, string>>, selector: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** Whether a workload or pod belongs to the target: its namespace, and its selector when given. */
export function inKubernetesTarget(
  target: Target,
  object: { namespace: string; labels: Readonly<Record<string, string>> },
): boolean {
  const kubernetes = target.kubernetes;
  if (!kubernetes || object.namespace !== kubernetes.namespace) return false;
  return matchesLabels(object.labels, kubernetes.selector ?? {});
}

/**
 * What of a namespace belongs to the target: the workloads and pods its selector matches;
 * every ReplicaSet, since they are only the links from a Deployment to its pods.
 */
export function targetWorkloads(target: Target, view: NamespaceView): WorkloadObservation {
  return {
    workloads: view.workloads.filter((w) => inKubernetesTarget(target, w)),
    replicaSets: view.replicaSets,
    pods: view.pods.filter((p) => inKubernetesTarget(target, p)),
  };
}

/** An object's managing controller, when it has one. */
function controllerOf(object: { ownerReferences: readonly OwnerReference[] }): OwnerReference | undefined {
  return object.ownerReferences.find((ref) => ref.controller);
}

const controlledBy = (object: { ownerReferences: readonly OwnerReference[] }, kind: string, uid: string): boolean => {
  const controller = controllerOf(object);
  return controller !== undefined && controller.kind === kind && controller.uid === uid && uid !== "";
};

/**
 * The pods a workload owns, by identity: a pod whose controller reference names the
 * StatefulSet's uid, or a ReplicaSet whose controller reference names the Deployment's uid.
 * Never by labels: a `web-canary` pod that also carries `app=web` is not the `web`
 * Deployment's, and neither is a bare pod someone labelled to look like one.
 */
export function podsOf(
  workload: WorkloadSnapshot,
  observed: Pick<WorkloadObservation, "replicaSets" | "pods">,
): PodSnapshot[] {
  const owners =
    workload.kind === "StatefulSet"
      ? { kind: "StatefulSet", uids: new Set([workload.uid]) }
      : {
          kind: "ReplicaSet",
          uids: new Set(
            observed.replicaSets
              .filter((rs) => rs.namespace === workload.namespace && controlledBy(rs, "Deployment", workload.uid))
              .map((rs) => rs.uid),
          ),
        };
  return observed.pods
    .filter((p) => {
      const controller = controllerOf(p);
      return p.namespace === workload.namespace && controller?.kind === owners.kind && owners.uids.has(controller.uid);
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The workload a service names (`Deployment/web`), if it exists in the observation. */
export function workloadOfService(service: ServiceSpec, observed: WorkloadObservation): WorkloadSnapshot | undefined {
  const ref = parseWorkloadName(service.name);
  return ref && observed.workloads.find((w) => w.kind === ref.kind && w.name === ref.name);
}

/**
 * Drift of one Kubernetes service. Pure. Replicas are compared with the workload's
 * `spec.replicas` (what Steward can fix by scaling); readiness only when `healthy` is set;
 * a pod whose container waits in CrashLoopBackOff is drift of its own, since the kubelet
 * is already restarting it and another restart would not help; a terminating pod is not.
 */
export function workloadDrift(service: ServiceSpec, observed: WorkloadObservation): Omit<Drift, "since">[] {
  const ref = parseWorkloadName(service.name);
  if (!ref) return [];
  const desired = service.running ? service.replicas : 0;
  const subject = workloadSubject(ref);
  const workload = workloadOfService(service, observed);
  if (!workload) {
    return desired === 0
      ? []
      : [{ type: "WorkloadMissing", subject, expected: `${ref.kind} with ${desired} replicas`, observed: "not found" }];
  }
  return [...replicaDrift(service, workload, { desired, subject }), ...crashLoops(workload, observed)];
}

/** Replicas that differ from the declared count; else, with `healthy`, replicas that are not ready. */
function replicaDrift(
  service: ServiceSpec,
  workload: WorkloadSnapshot,
  expected: { desired: number; subject: string },
): Omit<Drift, "since">[] {
  const { desired, subject } = expected;
  if (workload.replicas !== desired) {
    const observed = `${workload.replicas} replicas`;
    return [{ type: "ReplicasMismatch", subject, expected: `${desired} replicas`, observed }];
  }
  if (service.healthy && workload.readyReplicas < desired) {
    const observed = `${workload.readyReplicas}/${desired} ready`;
    return [{ type: "WorkloadUnready", subject, expected: `${desired} ready`, observed }];
  }
  return [];
}

/** The workload's pods with a container waiting in CrashLoopBackOff. */
function crashLoops(workload: WorkloadSnapshot, observed: WorkloadObservation): Omit<Drift, "since">[] {
  const drift: Omit<Drift, "since">[] = [];
  for (const pod of podsOf(workload, observed)) {
    // A pod being deleted is on its way out; its replacement is what counts.
    if (pod.terminating) continue;
    const looping = pod.containers.find((c) => c.state === "waiting" && c.reason === "CrashLoopBackOff");
    if (looping) {
      drift.push({
        type: "PodCrashLooping",
        subject: `pod/${pod.name}`,
        expected: "running",
        observed: describeCrashLoop(looping),
      });
    }
  }
  return drift;
}

function describeCrashLoop(container: PodSnapshot["containers"][number]): string {
  const last = container.lastTermination;
  const termination = last ? `, last terminated ${last.reason ?? "with"} (exit code ${last.exitCode})` : "";
  return `CrashLoopBackOff: container ${container.name}, ${container.restartCount} restarts${termination}`;
}

/**
 * The declared workloads that have not finished rolling out, described: the controller has
 * not seen the latest spec yet, or fewer replicas are updated or ready than the spec asks
 * (what `kubectl rollout status` waits for). A workload scaled to zero or not found is not
 * rolling out. Pure.
 */
export function unsettledWorkloads(services: readonly ServiceSpec[], observed: WorkloadObservation): string[] {
  return services.flatMap((service) => {
    const workload = workloadOfService(service, observed);
    if (!workload || workload.replicas === 0) return [];
    const settled =
      workload.observedGeneration >= workload.generation &&
      workload.updatedReplicas >= workload.replicas &&
      workload.readyReplicas >= workload.replicas;
    return settled
      ? []
      : [
          `${workloadSubject(workload)}: ${workload.updatedReplicas} updated, ${workload.readyReplicas} ready of ${workload.replicas}`,
        ];
  });
}
