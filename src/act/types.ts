import type { WorkloadRef } from "../observe/types.js";

/*
 * The adapters that change the system. They also fetch, on demand, the evidence the
 * observers do not cache (logs, env values, Events): the same client, deadline and fence.
 */

/** The Docker actions Steward takes itself and the evidence it gathers on demand. */
export interface DockerActions {
  start(nameOrId: string, signal?: AbortSignal): Promise<void>;
  restart(nameOrId: string, signal?: AbortSignal): Promise<void>;
  /** The last `tail` log lines, stdout and stderr demultiplexed, without Docker's framing. */
  logs(nameOrId: string, tail: number, signal?: AbortSignal): Promise<string[]>;
  /**
   * What the container holds that is secret by default, redacted wherever it appears in
   * evidence and tool output: the values of its environment (`NAME=value` → `value`), of
   * its command's secret arguments (`--password x`) and of labels whose key names a secret.
   * Optional: without it only secret-shaped text is redacted.
   */
  secretValues?(nameOrId: string, signal?: AbortSignal): Promise<string[]>;
}

/** One Event: what it regards (`pod/web-1`, `replicaset/web-7d9`) and the line `kubectl get events` would show. */
export interface KubernetesEventLine {
  regarding: string;
  line: string;
}

/** The Kubernetes actions Steward takes itself and the evidence it gathers on demand. */
export interface KubernetesActions {
  scale(workload: WorkloadRef, replicas: number, signal?: AbortSignal): Promise<void>;
  /** As `kubectl rollout restart`: stamps the pod template so the controller replaces every pod. */
  rolloutRestart(workload: WorkloadRef, signal?: AbortSignal): Promise<void>;
  /**
   * Deletes the pod; with `uid`, only that pod (a precondition): a replacement that took
   * its name since it was observed is left alone (409 Conflict).
   */
  deletePod(namespace: string, pod: { name: string; uid?: string }, signal?: AbortSignal): Promise<void>;
  logs(
    namespace: string,
    pod: string,
    options: { container?: string; tail: number; previous?: boolean },
    signal?: AbortSignal,
  ): Promise<string[]>;
  /** Events about the namespace's objects (or the objects of one name), oldest first. */
  events(namespace: string, object?: string, signal?: AbortSignal): Promise<KubernetesEventLine[]>;
}
