import type { RunConfig } from "../config.js";
import { createLogger, type Logger } from "../logging.js";
import { createDockerClient, DockerEventObserver, DockerodeActions } from "../observe/docker/index.js";
import { HttpPrometheusClient } from "../observe/prometheus.js";
import { Controller } from "../reconcile/controller.js";
import { DesiredStateReconciler } from "../reconcile/desired-state-reconciler.js";
import { DesiredStateIndex, enqueueForDockerEvent, enqueueForStoreEvent } from "../reconcile/handlers.js";
import { WorkQueue } from "../reconcile/queue.js";
import { StewardMetrics } from "../server/metrics.js";
import { OperabilityServer } from "../server/http.js";
import { FileStore } from "../store/file/file-store.js";
import type { Store, WatchEvent } from "../store/store.js";

/** A running Steward: everything `steward run` starts, so it can be stopped in order. */
export interface RunningSteward {
  metricsAddress: string;
  stop(): Promise<void>;
}

/**
 * Starts Steward: store, observers, controller and the operability server. Resolves once
 * everything is started; the returned `stop` shuts down in reverse order.
 */
export async function startSteward(config: RunConfig, logger: Logger = createLogger({ format: config.logFormat, level: config.logLevel })): Promise<RunningSteward> {
  logger.info("starting steward", { config: { ...config } });
  const metrics = new StewardMetrics();
  const store: Store = new FileStore(config.stateDir);
  const docker = createDockerClient();
  const observer = new DockerEventObserver({ docker, logger: logger.child({ observer: "docker" }) });
  const prometheus = config.prometheusUrl ? new HttpPrometheusClient({ baseUrl: config.prometheusUrl }) : undefined;
  const queue = new WorkQueue();
  const index = new DesiredStateIndex();
  const phases = new RemediationPhaseTracker(metrics);
  const reconciler = new DesiredStateReconciler({
    store,
    docker: observer,
    dockerActions: new DockerodeActions(docker),
    prometheus,
    metrics,
    agent: { modelConfigured: config.modelConfigured },
  });
  const controller = new Controller({
    reconciler,
    queue,
    logger,
    metrics,
    workers: config.workers,
    reconcileTimeoutMs: config.reconcileTimeoutMs,
  });

  store.watch((event) => {
    index.apply(event);
    phases.apply(event);
    enqueueForStoreEvent(event, queue);
  });
  observer.subscribe((event) => {
    if (event.type === "connection") {
      metrics.observerConnected.set({ observer: "docker" }, event.connection.state === "connected" ? 1 : 0);
      logger.info("docker connection", { ...event.connection });
    }
    enqueueForDockerEvent(event, index, queue, logger);
  });
  // Subscribed before start(), so the initial list arrives as ADDED events (informer style).
  await store.start();
  await observer.start();
  const server = new OperabilityServer({
    address: config.metricsAddr,
    registry: metrics.registry,
    health: { notReadyReason: () => (observer.synced() ? undefined : "the Docker cache has not been listed yet") },
  });
  const metricsAddress = await server.start();
  controller.start();
  logger.info("steward is running", { metrics: `http://${metricsAddress}/metrics`, desiredStates: index.keys().length });

  return {
    metricsAddress,
    async stop(): Promise<void> {
      logger.info("shutting down");
      await controller.stop();
      await server.close();
      await observer.close();
      await store.close();
      logger.info("stopped");
    },
  };
}

/** Keeps the remediations-by-phase gauge equal to what the store holds. */
class RemediationPhaseTracker {
  private readonly phases = new Map<string, string>();

  constructor(private readonly metrics: StewardMetrics) {}

  apply(event: WatchEvent): void {
    if (event.object.kind !== "AgentRemediation") return;
    const key = `${event.object.metadata.namespace}/${event.object.metadata.name}`;
    const before = this.phases.get(key);
    if (before) this.metrics.remediations.dec({ phase: before });
    if (event.type === "DELETED") {
      this.phases.delete(key);
      return;
    }
    const phase = event.object.status?.phase ?? "Pending";
    this.phases.set(key, phase);
    this.metrics.remediations.inc({ phase });
  }
}
