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
   * The values of the container's environment (`NAME=value` → `value`): secrets by default,
   * redacted wherever they appear in evidence. Optional: without it only secret-shaped
   * text is redacted.
   */
  envValues?(nameOrId: string, signal?: AbortSignal): Promise<string[]>;
}

/** The Kubernetes actions Steward takes itself and the evidence it gathers on demand. */
export interface KubernetesActions {
  scale(workload: WorkloadRef, replicas: number, signal?: AbortSignal): Promise<void>;
  /** As `kubectl rollout restart`: stamps the pod template so the controller replaces every pod. */
  rolloutRestart(workload: WorkloadRef, signal?: AbortSignal): Promise<void>;
  deletePod(namespace: string, name: string, signal?: AbortSignal): Promise<void>;
  logs(
    namespace: string,
    pod: string,
    options: { container?: string; tail: number; previous?: boolean },
    signal?: AbortSignal,
  ): Promise<string[]>;
  /** Events about the namespace's objects (or one object), oldest first. */
  events(namespace: string, object?: string, signal?: AbortSignal): Promise<string[]>;
}
