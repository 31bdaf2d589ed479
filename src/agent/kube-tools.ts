import { z } from "zod";
import { StewardError } from "../errors.js";
import { DNS1123_LABEL, DNS1123_SUBDOMAIN } from "../api/object-names.js";
import type { NamespaceView } from "../observe/types.js";
import { podsOf, workloadOf, workloadSubject } from "../reconcile/workload-drift.js";
import { readable } from "./ownership.js";
import { ok, resolveNow, type KubernetesToolAccess, type ToolDefinition, type ToolEnvironment } from "./tools.js";

/**
 * The Kubernetes tools. Each is bound to the target's namespace: the model names objects,
 * never a namespace, a context or a server, so it cannot reach past the target whatever
 * the policy says. The argv each stands for is the kubectl command a person would type,
 * which is what policy rules (`kubectl scale *`) match. Every object a call names is
 * resolved against the scope observed when it runs: reads within the target, changes to the
 * DesiredState's own workloads and the pods they own (ownership.ts).
 */

const PodName = z
  .string()
  .regex(DNS1123_SUBDOMAIN, "a pod name (a DNS-1123 subdomain: lower-case letters, digits, '-' and '.')")
  .describe("pod name");
const ContainerName = z
  .string()
  .regex(DNS1123_LABEL, "a container name (a DNS-1123 label: lower-case letters, digits and '-')")
  .describe("container name, when the pod has several");
const WorkloadName = z
  .string()
  .max(253 + "statefulset/".length)
  .refine(
    (w) => /^(deployment|statefulset)\//.test(w) && DNS1123_SUBDOMAIN.test(w.slice(w.indexOf("/") + 1)),
    "deployment/<name> or statefulset/<name>, the name a DNS-1123 subdomain",
  )
  .describe("the workload, as deployment/<name> or statefulset/<name>");

function kubeOf(env: ToolEnvironment): KubernetesToolAccess {
  if (!env.kubernetes) throw new StewardError("this session's target is not a Kubernetes namespace");
  return env.kubernetes;
}

const GetKind = z.enum(["pods", "deployments", "statefulsets"]);
function viewOf(kube: KubernetesToolAccess): NamespaceView {
  const view = kube.view();
  if (!view) throw new StewardError(`namespace ${kube.namespace} has not been listed yet`);
  return view;
}

function podRows(view: NamespaceView, names: (id: string, name: string) => boolean): string[] {
  return view.pods
    .filter((p) => names(`pod/${p.name}`, p.name))
    .map((p) => {
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
}

function workloadRows(
  view: NamespaceView,
  kind: "Deployment" | "StatefulSet",
  names: (id: string, name: string) => boolean,
): string[] {
  return view.workloads
    .filter((w) => w.kind === kind && names(workloadSubject(w), w.name))
    .map((w) =>
      [
        w.name,
        String(w.replicas),
        String(w.readyReplicas),
        String(w.updatedReplicas),
        podsOf(w, view)
          .filter((p) => names(`pod/${p.name}`, p.name))
          .map((p) => p.name)
          .join(","),
      ].join("\t"),
    );
}

const kubeGet: ToolDefinition<{ kind: z.infer<typeof GetKind>; name?: string }> = {
  name: "kube_get",
  description:
    "List the target's pods, deployments or statefulsets (like `kubectl get`, optionally one by name): replicas, readiness and the pods each owns; for pods phase, ready, restarts, container state and reason (CrashLoopBackOff…) and last termination reason and exit code.",
  input: z.strictObject({ kind: GetKind, name: PodName.optional().describe("only this object") }),
  kind: "read",
  argv: (i) => ["kubectl", "get", i.kind, ...(i.name ? [i.name] : [])],
  touches: () => [],
  async run(input, env, signal) {
    const kube = kubeOf(env);
    const view = kube.view();
    if (!view) return { output: `namespace ${kube.namespace} has not been listed yet`, isError: true };
    const scope = await env.scope(signal);
    const names = (id: string, name: string): boolean =>
      readable(scope, id) && (input.name === undefined || name === input.name);
    if (input.kind === "pods") {
      return {
        ...ok(["NAME\tPHASE\tREADY\tCONTAINERS", ...podRows(view, names)].join("\n")),
        secrets: [...scope.secrets],
      };
    }
    const rows = workloadRows(view, input.kind === "deployments" ? "Deployment" : "StatefulSet", names);
    return { ...ok(["NAME\tREPLICAS\tREADY\tUPDATED\tPODS", ...rows].join("\n")), secrets: [...scope.secrets] };
  },
};

const kubeEvents: ToolDefinition<{ object?: string }> = {
  name: "kube_events",
  description:
    "Recent events about the target's objects (like `kubectl get events`), optionally only those about objects of one name; oldest first, at most 50.",
  input: z.strictObject({ object: PodName.optional().describe("only events about objects with this name") }),
  kind: "read",
  argv: (i) => ["kubectl", "get", "events", ...(i.object ? [`--field-selector=involvedObject.name=${i.object}`] : [])],
  touches: () => [],
  async run(input, env, signal) {
    const kube = kubeOf(env);
    const scope = await env.scope(signal);
    // An event is shown only when what it regards is in the target: another workload's
    // events in the same namespace are outside, as its logs are.
    const events = (await kube.actions.events(kube.namespace, input.object, signal)).filter((e) =>
      readable(scope, e.regarding),
    );
    const output =
      events.length === 0 ? "(no events about the target's objects)" : events.map((e) => e.line).join("\n");
    return { ...ok(output), secrets: [...scope.secrets] };
  },
};

const kubeLogs: ToolDefinition<{ pod: string; container?: string; tail?: number; previous?: boolean }> = {
  name: "kube_logs",
  description:
    "The last lines of one of the target's pods' container log (tail ≤ 500, default 100). previous: true reads the run that ended, where a crash loop says why.",
  input: z.strictObject({
    pod: PodName,
    container: ContainerName.optional(),
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
  reads: (i) => [`pod/${i.pod}`],
  async run(input, env, signal) {
    const kube = kubeOf(env);
    const { scope } = await resolveNow(env, `pod/${input.pod}`, { access: "read", signal });
    const pod = viewOf(kube).pods.find((p) => p.name === input.pod);
    const lines = await kube.actions.logs(
      kube.namespace,
      input.pod,
      { container: input.container, tail: input.tail ?? 100, previous: input.previous },
      signal,
    );
    // The pod's own env values too, when reads reach past the target (reads: all).
    return {
      ...ok(lines.length === 0 ? "(no log lines)" : lines.join("\n")),
      secrets: [...scope.secrets, ...(pod?.secretValues ?? [])],
    };
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
    await resolveNow(env, input.workload, { access: "change", signal });
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
    await resolveNow(env, input.workload, { access: "change", signal });
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
    // Resolved again now, and deleted by uid: a pod that took its name since is not ours to delete.
    const { object } = await resolveNow(env, `pod/${input.pod}`, { access: "change", signal });
    if (env.dryRun) return ok(`dry run: would delete pod ${input.pod}`);
    const kube = kubeOf(env);
    await kube.actions.deletePod(kube.namespace, { name: input.pod, uid: object.uid }, signal);
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
