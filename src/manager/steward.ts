import { loggableConfig, type RunConfig } from "./config.js";
import { LeadershipFence, openLeaderElector, runWhileLeading } from "./leadership.js";
import { SystemObserver } from "../reconcile/observation.js";
import { RemediationReconciler } from "../reconcile/remediation-reconciler.js";
import { createLogger, type Logger } from "../telemetry/logging.js";
import { CircuitBreaker } from "../resilience/circuit-breaker.js";
import { Controller } from "../reconcile/controller.js";
import { OpeningRateLimiter } from "../resilience/token-bucket.js";
import { DesiredStateReconciler } from "../reconcile/desired-state-reconciler.js";
import {
  DesiredStateIndex,
  enqueueForStoreEvent,
  enqueueRemediationsForStoreEvent,
  OpenRemediationIndex,
  registerInvariants,
} from "../reconcile/handlers.js";
import { SessionSlots } from "../reconcile/session-slots.js";
import { WorkQueue } from "../reconcile/queue.js";
import { StewardMetrics } from "../telemetry/metrics.js";
import { OperabilityServer } from "../server/http.js";
import { openEventRecorder, openStore } from "../store/open.js";
import { Targets } from "./targets.js";
import { CachedStore } from "../store/cache.js";
import type { Store, WatchEvent } from "../store/store.js";
import { QueryEvaluator } from "../observe/query-evaluator.js";
import type { SessionOutcome, SessionRunContext, SessionRunner } from "../reconcile/session-runner.js";
import type { AgentRemediation } from "../api/remediation.js";
import type { DesiredState } from "../api/desired-state.js";
import { errorMessage } from "../errors.js";

/** A slow model answer is still an answer; past this the SDK gives up and retries. */
const ANTHROPIC_TIMEOUT_MS = 120_000;
const AGENT_MAX_TOKENS = 4_096;
/** A backstop: the policy's maxDuration normally ends a session long before. */
const AGENT_SESSION_DEADLINE_MS = 3_600_000;
/**
 * Workers of the remediation controller beyond its session slots: they do its status work
 * (opening statuses arrive, drift that cleared, why a session waits) while sessions run.
 */
const REMEDIATION_STATUS_WORKERS = 2;

/** A running Steward: everything `steward run` starts, so it can be stopped in order. */
export interface RunningSteward {
  metricsAddress: string;
  /** Resolves if this replica lost its leader lease and could not stop acting in time: the caller must exit at once (see runWhileLeading). */
  leadershipLost: Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts Steward: store, observers, controller and the operability server. Resolves once
 * everything is started; the returned `stop` shuts down in reverse order.
 */
export async function startSteward(
  config: RunConfig,
  logger: Logger = createLogger({ format: config.logFormat, level: config.logLevel }),
): Promise<RunningSteward> {
  logger.info("starting steward", { config: loggableConfig(config) });
  const metrics = new StewardMetrics();
  // Closed unless this process may act (leads, or runs without leader election): checked before every write and action.
  const fence = new LeadershipFence();
  const store: Store = await openStore(config.store, config.stateDir, config.watchNamespace, {
    logger: logger.child({ store: config.store }),
    metrics,
    fence,
  });
  // The DesiredState reconciler reads from memory (watch-fed, read-your-writes): no API request or file read per reconcile.
  const cache = new CachedStore(store);
  const events = await openEventRecorder(config.store, logger);
  const targets = await Targets.open(config, logger, fence);
  const queue = new WorkQueue();
  const index = new DesiredStateIndex();
  // Invariant queries run once per slot for every DesiredState that shares them; a changed result enqueues its owners.
  const evaluator = targets.observers.prometheus
    ? new QueryEvaluator({
        client: targets.observers.prometheus,
        onChange: (owners) => owners.forEach((key) => queue.add(key)),
      })
    : undefined;
  const phases = new RemediationPhaseTracker(metrics);
  const reconciler = new DesiredStateReconciler({
    store: cache,
    observers: { ...targets.observers, prometheus: evaluator },
    evaluatorEnqueues: evaluator !== undefined,
    dockerActions: targets.dockerActions,
    kubernetesActions: targets.kubernetesActions,
    metrics,
    agent: { modelConfigured: config.modelConfigured },
    events,
    openings: new OpeningRateLimiter(config.maxOpeningsPerMinute),
  });
  const controller = new Controller({
    name: "desiredstate",
    reconciler,
    queue,
    logger,
    metrics,
    workers: config.workers,
    reconcileTimeoutMs: config.reconcileTimeoutMs,
  });
  const runner = config.anthropicApiKey
    ? new OnDemandSessionRunner(() => openAgentRunner(config, { targets, metrics }))
    : undefined;
  const agentQueue = new WorkQueue();
  const openRemediations = new OpenRemediationIndex();
  // The owner of every remediation's status. Sessions take one of --max-sessions slots; the
  // rest wait Pending, and are enqueued again when a slot frees.
  const agentController = new Controller({
    name: "remediation",
    reconciler: new RemediationReconciler({
      store,
      runner,
      metrics,
      events,
      observer: new SystemObserver(targets.observers),
      slots: new SessionSlots(config.maxSessions, (key) => agentQueue.add(key)),
      breaker: new CircuitBreaker(
        { threshold: config.breakerThreshold, openForMs: config.breakerOpenForMs },
        { metrics, logger: logger.child({ controller: "agent" }) },
      ),
    }),
    queue: agentQueue,
    logger: logger.child({ controller: "agent" }),
    metrics,
    workers: config.maxSessions + REMEDIATION_STATUS_WORKERS,
    reconcileTimeoutMs: AGENT_SESSION_DEADLINE_MS,
  });

  store.watch((event) => {
    index.apply(event);
    if (evaluator) registerInvariants(event, evaluator);
    openRemediations.apply(event);
    targets.watchNamespaces(index.kubernetesNamespaces());
    phases.apply(event);
    enqueueForStoreEvent(event, queue);
    enqueueRemediationsForStoreEvent(event, openRemediations, agentQueue);
  });
  targets.subscribe(index, queue, { metrics, logger });
  // Subscribed before start(), so the initial list arrives as ADDED events (informer style).
  await cache.start();
  await targets.start();
  const server = new OperabilityServer({
    address: config.metricsAddr,
    registry: metrics.registry,
    health: { notReadyReason: () => targets.notReadyReason() },
  });
  const metricsAddress = await server.start();
  // Only the leader reconciles and runs agent sessions; a standby keeps its caches warm and is Ready.
  const leadership = runWhileLeading([agentController, controller], {
    elector: await openLeaderElector(config.leaderElection, logger),
    metrics,
    logger,
    fence,
  });
  runner?.warm(logger);
  logger.info("steward is running", {
    metrics: `http://${metricsAddress}/metrics`,
    desiredStates: index.keys().length,
  });

  return {
    metricsAddress,
    leadershipLost: leadership.lost,
    async stop(): Promise<void> {
      logger.info("shutting down");
      await leadership.stop();
      await server.close();
      evaluator?.close();
      await targets.close();
      await cache.close();
      logger.info("stopped");
    },
  };
}

/**
 * The agent, loaded off the start-up path: the Anthropic SDK and the agent's modules take
 * about a second of CPU to load on a busy machine and 23 MB of resident memory. Without an
 * API key they are never loaded; with one, `warm` loads them in the background once
 * Steward runs, so the first incident does not wait for them (ADR 0010).
 */
class OnDemandSessionRunner implements SessionRunner {
  private runner: Promise<SessionRunner> | undefined;

  constructor(private readonly load: () => Promise<SessionRunner>) {}

  warm(logger: Logger): void {
    this.runner ??= this.load();
    this.runner.catch((err: unknown) => logger.error("loading the agent failed", { error: errorMessage(err) }));
  }

  async run(
    remediation: AgentRemediation,
    desiredState: DesiredState,
    context: SessionRunContext,
  ): Promise<SessionOutcome> {
    this.runner ??= this.load();
    return (await this.runner).run(remediation, desiredState, context);
  }
}

async function openAgentRunner(
  config: RunConfig,
  deps: { targets: Targets; metrics: StewardMetrics },
): Promise<SessionRunner> {
  const [{ default: Anthropic }, { AgentRunner }, { SessionFiles }] = await Promise.all([
    import("@anthropic-ai/sdk"),
    import("../agent/runner.js"),
    import("../agent/session-store.js"),
  ]);
  return new AgentRunner({
    files: new SessionFiles(config.stateDir),
    client: new Anthropic({
      apiKey: config.anthropicApiKey,
      baseURL: config.anthropicBaseUrl,
      timeout: ANTHROPIC_TIMEOUT_MS,
      maxRetries: 2,
    }),
    model: config.model,
    maxTokens: AGENT_MAX_TOKENS,
    tools: deps.targets.agentTools,
    observer: new SystemObserver(deps.targets.observers),
    verifyTimeoutMs: config.verifyTimeoutMs,
    metrics: deps.metrics,
  });
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
