import { z } from "zod";
import { StewardError } from "../errors.js";
import { podsOf, workloadOf, workloadSubject } from "../reconcile/workload-drift.js";
import { ok, type KubernetesToolAccess, type ToolDefinition, type ToolEnvironment } from "./tools.js";

/**
 * The Kubernetes tools. Each is bound to the target's namespace: the model names objects,
 * never a namespace, a context or a server, so it cannot reach past the target whatever
 * the policy says. The argv each stands for is the kubectl command a person would type,
 * which is what policy rules (`kubectl scale *`) match.
 */

const DNS_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const WORKLOAD = /^(deployment|statefulset)\/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

const PodName = z.string().regex(DNS_NAME, "a pod name (lower-case DNS name)").describe("pod name");
const WorkloadName = z
  .string()
  .regex(WORKLOAD, "deployment/<name> or statefulset/<name>")
  .describe("the workload, as deployment/<name> or statefulset/<name>");

function kubeOf(env: ToolEnvironment): KubernetesToolAccess {
  if (!env.kubernetes) throw new StewardError("this session's target is not a Kubernetes namespace");
  return env.kubernetes;
}

const GetKind = z.enum(["pods", "deployments", "statefulsets"]);

const kubeGet: ToolDefinition<{ kind: z.infer<typeof GetKind>; name?: string }> = {
  name: "kube_get",
  description:
    "List the target namespace's pods, deployments or statefulsets (like `kubectl get`, optionally one by name): replicas and readiness; for pods phase, ready, restarts, container state and reason (CrashLoopBackOff…) and last termination reason and exit code.",
  input: z.strictObject({ kind: GetKind, name: PodName.optional().describe("only this object") }),
  kind: "read",
  argv: (i) => ["kubectl", "get", i.kind, ...(i.name ? [i.name] : [])],
  touches: () => [],
  run(input, env) {
    const kube = kubeOf(env);
    const observed = kube.observed();
    if (!observed)
      return Promise.resolve({ output: `namespace ${kube.namespace} has not been listed yet`, isError: true });
    const named = <T extends { name: string }>(items: readonly T[]): T[] =>
      items.filter((o) => input.name === undefined || o.name === input.name);
    if (input.kind === "pods") {
      const rows = named(observed.pods).map((p) => {
        const containers = p.containers.map((c) => {
          const last = c.lastTermination
            ? ` last=${c.lastTermination.reason ?? "?"}(exit ${c.lastTermination.exitCode})`
            : "";
          return `${c.name}:${c.state}${c.reason ? `(${c.reason})` : ""} restarts=${c.restartCount}${last}`;
        });
        return [
          p.name,
          p.terminating ? "Terminating" : p.phase,
          p.ready ? "ready" : "not-ready",
          containers.join(" "),
        ].join("\t");
      });
      return Promise.resolve(ok(["NAME\tPHASE\tREADY\tCONTAINERS", ...rows].join("\n")));
    }
    const kind = input.kind === "deployments" ? "Deployment" : "StatefulSet";
    const rows = named(observed.workloads.filter((w) => w.kind === kind)).map((w) =>
      [
        w.name,
        String(w.replicas),
        String(w.readyReplicas),
        String(w.updatedReplicas),
        podsOf(w, observed.pods)
          .map((p) => p.name)
          .join(","),
      ].join("\t"),
    );
    return Promise.resolve(ok(["NAME\tREPLICAS\tREADY\tUPDATED\tPODS", ...rows].join("\n")));
  },
};

const kubeEvents: ToolDefinition<{ object?: string }> = {
  name: "kube_events",
  description:
    "Recent events of the target namespace (like `kubectl get events`), optionally only those about one object by name; oldest first, at most 50.",
  input: z.strictObject({ object: PodName.optional().describe("only events about the object with this name") }),
  kind: "read",
  argv: (i) => ["kubectl", "get", "events", ...(i.object ? [`--field-selector=involvedObject.name=${i.object}`] : [])],
  touches: () => [],
  async run(input, env, signal) {
    const kube = kubeOf(env);
    const lines = await kube.actions.events(kube.namespace, input.object, signal);
    return ok(lines.length === 0 ? "(no events)" : lines.join("\n"));
  },
};

const kubeLogs: ToolDefinition<{ pod: string; container?: string; tail?: number; previous?: boolean }> = {
  name: "kube_logs",
  description:
    "The last lines of a pod's container log (tail ≤ 500, default 100). previous: true reads the run that ended, where a crash loop says why.",
  input: z.strictObject({
    pod: PodName,
    container: PodName.optional().describe("container name, when the pod has several"),
    tail: z.number().int().min(1).max(500).optional(),
    previous: z.boolean().optional(),
  }),
  kind: "read",
  argv: (i) => [
    "kubectl",
    "logs",
    i.pod,
    `--tail=${i.tail ?? 100}`,
    ...(i.container ? [`--container=${i.container}`] : []),
    ...(i.previous ? ["--previous"] : []),
  ],
  touches: () => [],
  async run(input, env, signal) {
    const kube = kubeOf(env);
    const lines = await kube.actions.logs(
      kube.namespace,
      input.pod,
      { container: input.container, tail: input.tail ?? 100, previous: input.previous },
      signal,
    );
    return ok(lines.length === 0 ? "(no log lines)" : lines.join("\n"));
  },
};

function workloadRef(
  env: ToolEnvironment,
  workload: string,
): { kube: KubernetesToolAccess; ref: NonNullable<ReturnType<typeof workloadOf>> } {
  const kube = kubeOf(env);
  const ref = workloadOf(workload, kube.namespace);
  if (!ref) throw new StewardError(`not a workload: ${workload}`);
  return { kube, ref };
}

const kubeScale: ToolDefinition<{ workload: string; replicas: number }> = {
  name: "kube_scale",
  description:
    "Scale one of this DesiredState's workloads (like `kubectl scale deployment/x --replicas=N`). Subject to the policy and, in approve mode, a person's approval.",
  input: z.strictObject({ workload: WorkloadName, replicas: z.number().int().min(0).max(1_000) }),
  kind: "mutate",
  argv: (i) => ["kubectl", "scale", i.workload, `--replicas=${i.replicas}`],
  touches: (i) => [i.workload],
  async run(input, env, signal) {
    if (env.dryRun) return ok(`dry run: would scale ${input.workload} to ${input.replicas}`);
    const { kube, ref } = workloadRef(env, input.workload);
    await kube.actions.scale(ref, input.replicas, signal);
    return ok(`${workloadSubject(ref)} scaled to ${input.replicas}`);
  },
};

const kubeRolloutRestart: ToolDefinition<{ workload: string }> = {
  name: "kube_rollout_restart",
  description:
    "Replace every pod of one of this DesiredState's workloads, as `kubectl rollout restart` does. Subject to the policy and, in approve mode, a person's approval.",
  input: z.strictObject({ workload: WorkloadName }),
  kind: "mutate",
  argv: (i) => ["kubectl", "rollout", "restart", i.workload],
  touches: (i) => [i.workload],
  async run(input, env, signal) {
    if (env.dryRun) return ok(`dry run: would restart ${input.workload}`);
    const { kube, ref } = workloadRef(env, input.workload);
    await kube.actions.rolloutRestart(ref, signal);
    return ok(`${workloadSubject(ref)} restarted`);
  },
};

const kubeDeletePod: ToolDefinition<{ pod: string }> = {
  name: "kube_delete_pod",
  description:
    "Delete one pod of this DesiredState's workloads so its controller replaces it (like `kubectl delete pod`). Subject to the policy and, in approve mode, a person's approval.",
  input: z.strictObject({ pod: PodName }),
  kind: "mutate",
  argv: (i) => ["kubectl", "delete", "pod", i.pod],
  touches: (i) => [`pod/${i.pod}`],
  async run(input, env, signal) {
    if (env.dryRun) return ok(`dry run: would delete pod ${input.pod}`);
    const kube = kubeOf(env);
    await kube.actions.deletePod(kube.namespace, input.pod, signal);
    return ok(`pod/${input.pod} deleted`);
  },
};

export const KUBERNETES_ONLY_TOOLS: readonly ToolDefinition<never>[] = [
  kubeGet,
  kubeEvents,
  kubeLogs,
  kubeScale,
  kubeRolloutRestart,
  kubeDeletePod,
] as unknown as readonly ToolDefinition<never>[];
