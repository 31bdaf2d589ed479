import type { AgentRunnerDeps } from "../agent/runner.js";
import type { DockerToolAccess } from "../agent/tools.js";
import type { RunConfig } from "./config.js";
import type { Logger } from "../telemetry/logging.js";
import { DockerodeActions } from "../act/docker.js";
import { createDockerClient } from "../observe/docker/client.js";
import { DockerEventObserver } from "../observe/docker/observer.js";
import type { ApiServerActions } from "../act/kubernetes.js";
import type { KubernetesWorkloadObserver } from "../observe/kubernetes/observer.js";
import { HttpPrometheusClient } from "../observe/prometheus.js";
import type { DockerActions, KubernetesActions } from "../act/types.js";
import { enqueueForDockerEvent, enqueueForKubernetesEvent, type DesiredStateIndex } from "../reconcile/handlers.js";
import type { ObserverSet } from "../reconcile/observation.js";
import type { WorkQueue } from "../reconcile/queue.js";
import type { StewardMetrics } from "../telemetry/metrics.js";
import { OPEN_FENCE, type Fence } from "../kube/fence.js";

/**
 * What `--targets` turns on: the Docker observer and actions, the Kubernetes workload
 * observer and actions (on the current kubeconfig context), and Prometheus. A target that is
 * off is absent, and a DesiredState naming it reports Degraded rather than waiting forever.
 * Every Docker and Kubernetes action (simple fixes and the agent's changes) passes `fence`.
 */
export class Targets {
  readonly observers: ObserverSet;
  readonly dockerActions: DockerActions | undefined;
  readonly kubernetesActions: KubernetesActions | undefined;
  readonly agentTools: AgentRunnerDeps["tools"];
  private readonly docker: DockerEventObserver | undefined;
  private readonly kubernetes: KubernetesWorkloadObserver | undefined;

  /** Opens what `config.targets` names; the Kubernetes client is loaded only when a Kubernetes target is on. */
  static async open(config: RunConfig, logger: Logger, fence: Fence = OPEN_FENCE): Promise<Targets> {
    const kubernetes = config.targets.includes("kubernetes") ? await openKubernetes(logger, fence) : undefined;
    return new Targets(config, { logger, fence, kubernetes });
  }

  private constructor(
    config: RunConfig,
    { logger, fence, kubernetes }: { logger: Logger; fence: Fence; kubernetes: KubernetesTarget | undefined },
  ) {
    const prometheus = config.prometheusUrl
      ? new HttpPrometheusClient({ baseUrl: config.prometheusUrl, allowNonLoopback: config.prometheusAllowRemote })
      : undefined;
    const docker = config.targets.includes("docker") ? openDocker(config.dockerHost, logger, fence) : undefined;
    this.docker = docker?.observer;
    this.kubernetes = kubernetes?.observer;
    this.dockerActions = docker?.actions;
    this.kubernetesActions = kubernetes?.actions;
    this.observers = { docker: this.docker, kubernetes: this.kubernetes, prometheus };
    this.agentTools = { docker: docker?.tools, kubernetes, prometheus };
  }

  /** Observer events only enqueue the DesiredStates they concern. */
  subscribe(
    index: DesiredStateIndex,
    queue: WorkQueue,
    { metrics, logger }: { metrics: StewardMetrics; logger: Logger },
  ): void {
    this.docker?.subscribe((event) => {
      if (event.type === "connection") {
        metrics.observerConnected.set({ observer: "docker" }, event.connection.state === "connected" ? 1 : 0);
        logger.info("docker connection", { ...event.connection });
      }
      enqueueForDockerEvent(event, index, queue, logger);
    });
    this.kubernetes?.subscribe((event) => enqueueForKubernetesEvent(event, index, queue));
  }

  /** Starts listing the namespaces Kubernetes targets name, before a reconcile needs them. */
  watchNamespaces(namespaces: readonly string[]): void {
    for (const namespace of namespaces) this.kubernetes?.namespace(namespace);
  }

  async start(): Promise<void> {
    await this.docker?.start();
  }

  notReadyReason(): string | undefined {
    return !this.docker || this.docker.synced() ? undefined : "the Docker cache has not been listed yet";
  }

  async close(): Promise<void> {
    await this.docker?.close();
    await this.kubernetes?.close();
  }
}

function openDocker(
  dockerHost: string,
  logger: Logger,
  fence: Fence,
): { observer: DockerEventObserver; actions: DockerodeActions; tools: DockerToolAccess } {
  const client = createDockerClient(dockerHost);
  const observer = new DockerEventObserver({ docker: client, logger: logger.child({ observer: "docker" }) });
  const actions = new DockerodeActions(client, fence);
  return { observer, actions, tools: { client, containers: () => observer.containers(), actions } };
}

interface KubernetesTarget {
  observer: KubernetesWorkloadObserver;
  actions: ApiServerActions;
}

/** Imported on demand: @kubernetes/client-node costs about 80 MB and seconds of start-up (ADR 0010). */
async function openKubernetes(logger: Logger, fence: Fence): Promise<KubernetesTarget> {
  const [{ KubernetesWorkloadObserver }, { ApiServerActions }, { defaultKubeConfig }] = await Promise.all([
    import("../observe/kubernetes/observer.js"),
    import("../act/kubernetes.js"),
    import("../kube/config.js"),
  ]);
  const kubeConfig = defaultKubeConfig();
  return {
    observer: new KubernetesWorkloadObserver({ kubeConfig, logger: logger.child({ observer: "kubernetes" }) }),
    actions: new ApiServerActions(kubeConfig, undefined, fence),
  };
}
