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
  enqueueNotificationsForStoreEvent,
  enqueueRemediationsForStoreEvent,
  OpenRemediationIndex,
  registerInvariants,
} from "../reconcile/handlers.js";
import { SessionSlots } from "../reconcile/session-slots.js";
import { DEFAULT_BACKOFF, WorkQueue } from "../reconcile/queue.js";
import { StewardMetrics } from "../telemetry/metrics.js";
import { OperabilityServer } from "../server/http.js";
import { openEventRecorder, openStore } from "../store/open.js";
import { Targets } from "./targets.js";
import { CachedStore } from "../store/cache.js";
import type { InvalidObject, Store, WatchEvent } from "../store/store.js";
import { InvalidObjects } from "../reconcile/invalid-objects.js";
import { emptyRemediationStatus } from "../reconcile/remediations.js";
import type { RemediationStatus } from "../api/remediation.js";
import { AlertIntake } from "./alert-intake.js";
import type { ObserverSet } from "../reconcile/observation.js";
import { NotificationReconciler } from "../notify/notifier.js";
import { SinkSender } from "../notify/send.js";
import { PolicySecrets } from "../notify/secrets.js";
import { defaultKubeConfig } from "../kube/config.js";
import { QueryEvaluator } from "../observe/query-evaluator.js";
import type { SessionOutcome, SessionRunContext, SessionRunner } from "../reconcile/session-runner.js";
import type { AgentRemediation } from "../api/remediation.js";
import type { DesiredState } from "../api/desired-state.js";
import { errorMessage } from "../errors.js";

const AGENT_MAX_TOKENS = 4_096;
/** A backstop: the policy's maxDuration normally ends a session long before. */
const AGENT_SESSION_DEADLINE_MS = 3_600_000;
/**
 * Workers of the remediation controller beyond its session slots: they do its status work
 * (opening statuses arrive, drift that cleared, why a session waits) while sessions run.
 */
const REMEDIATION_STATUS_WORKERS = 2;
/** Remediations whose notifications are sent at once; each send has its own 10 s deadline. */
const NOTIFY_WORKERS = 2;
const NOTIFY_RECONCILE_TIMEOUT_MS = 120_000;

/** A running Steward: everything `steward run` starts, so it can be stopped in order. */
export interface RunningSteward {
  metricsAddress: string;
  /** Where the Alertmanager webhook receiver listens; undefined without --alerts-addr. */
  alertsAddress: string | undefined;
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
  const queue = new WorkQueue(DEFAULT_BACKOFF, metrics.queueHooks("desiredstate"));
  const invalid = new InvalidObjects();
  const store: Store = await openStore(
    config.store,
    config.stateDir,
    { namespaces: config.watchNamespaces },
    {
      logger: logger.child({ store: config.store }),
      metrics,
      fence,
      onInvalidObject: (object) => reportInvalid(object, { invalid, queue, logger }),
    },
  );
  // The DesiredState reconciler reads from memory (watch-fed, read-your-writes): no API request or file read per reconcile.
  const cache = new CachedStore(store);
  const events = await openEventRecorder(config.store, logger);
  const targets = await Targets.open(config, logger, fence);
  const alerts = alertIntake(config, { prometheus: targets.observers.prometheus, metrics, logger });
  const observers: ObserverSet = { ...targets.observers, ...alerts?.observers };
  const index = new DesiredStateIndex();
  // Invariant queries run once per slot for every DesiredState that shares them; a changed result enqueues its owners.
  const evaluator = targets.observers.prometheus
    ? new QueryEvaluator({
        client: targets.observers.prometheus,
        onChange: (owners) => owners.forEach((key) => queue.add(key)),
      })
    : undefined;
  const phases = new RemediationPhaseTracker(metrics, () => fence.isOpen());
  const reconciler = new DesiredStateReconciler({
    store: cache,
    observers: { ...observers, prometheus: evaluator },
    evaluatorEnqueues: evaluator !== undefined,
    dockerActions: targets.dockerActions,
    kubernetesActions: targets.kubernetesActions,
    metrics,
    agent: { modelConfigured: config.modelConfigured },
    events,
    openings: new OpeningRateLimiter(config.maxOpeningsPerMinute),
    invalid,
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
  const runner = config.modelConfigured
    ? new OnDemandSessionRunner(() => openAgentRunner(config, { targets, observers, metrics }))
    : undefined;
  const agentQueue = new WorkQueue(DEFAULT_BACKOFF, metrics.queueHooks("remediation"));
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
      observer: new SystemObserver(observers),
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

  const notifyQueue = new WorkQueue(DEFAULT_BACKOFF, metrics.queueHooks("notify"));
  const notifier = notificationController(config, { cache, queue: notifyQueue, metrics, fence, logger });

  store.watch((event) => {
    invalid.apply(event);
    index.apply(event);
    if (evaluator) registerInvariants(event, evaluator);
    openRemediations.apply(event);
    // Only a DesiredState can name a namespace; every event at 1,000 objects made this O(n²) at start.
    if (event.object.kind === "DesiredState") targets.watchNamespaces(index.kubernetesNamespaces());
    phases.apply(event);
    enqueueForStoreEvent(event, queue);
    enqueueRemediationsForStoreEvent(event, openRemediations, agentQueue);
    enqueueNotificationsForStoreEvent(event, notifyQueue);
  });
  targets.subscribe(index, queue, { metrics, logger });
  alerts?.subscribe(index, queue);
  // Subscribed before start(), so the initial list arrives as ADDED events (informer style).
  await cache.start();
  await targets.start();
  const server = new OperabilityServer({
    address: config.metricsAddr,
    registry: metrics.registry,
    health: { notReadyReason: () => targets.notReadyReason() },
  });
  const metricsAddress = await server.start();
  const alertsAddress = await alerts?.start();
  // Only the leader reconciles, runs agent sessions and sends notifications; a standby keeps its caches warm and is Ready.
  const leadership = runWhileLeading([agentController, notifier, controller], {
    elector: await openLeaderElector(config.leaderElection, logger),
    metrics,
    logger,
    fence,
  });
  runner?.warm(logger);
  logger.info("steward is running", {
    metrics: `http://${metricsAddress}/metrics`,
    ...(alertsAddress ? { alerts: `http://${alertsAddress}/alerts` } : {}),
    desiredStates: index.keys().length,
  });

  return {
    metricsAddress,
    alertsAddress,
    leadershipLost: leadership.lost,
    async stop(): Promise<void> {
      logger.info("shutting down");
      await leadership.stop();
      await alerts?.close();
      await server.close();
      evaluator?.close();
      await targets.close();
      await cache.close();
      logger.info("stopped");
    },
  };
}

/**
 * An object that fails validation is never dropped silently: a DesiredState is reconciled
 * to say so in its status (InvalidSpec); any other kind is logged, since Steward only reads it.
 */
function reportInvalid(object: InvalidObject, to: { invalid: InvalidObjects; queue: WorkQueue; logger: Logger }): void {
  if (object.kind === "DesiredState") {
    to.queue.add(to.invalid.report(object));
    return;
  }
  to.logger.warn("ignoring an invalid object", {
    kind: object.kind,
    namespace: object.namespace,
    name: object.name,
    problems: object.problems,
  });
}

/** The webhook receiver and alert cache, with --alerts-addr. */
function alertIntake(
  config: RunConfig,
  deps: { prometheus: ObserverSet["prometheus"]; metrics: StewardMetrics; logger: Logger },
): AlertIntake | undefined {
  if (!config.alertsAddr) return undefined;
  return new AlertIntake(config, { ...deps, logger: deps.logger.child({ observer: "alerts" }) });
}

/**
 * The notifier: delivers each remediation's outbox. Reads from the cache and keeps its
 * delivery ledger in an annotation (through the cache: read-your-writes). Secrets from
 * files, and from Secrets with the kubernetes store.
 */
function notificationController(
  config: RunConfig,
  deps: {
    cache: CachedStore;
    queue: WorkQueue;
    metrics: StewardMetrics;
    fence: LeadershipFence;
    logger: Logger;
  },
): Controller {
  const kubeConfig = config.store === "kubernetes" ? defaultKubeConfig() : undefined;
  return new Controller({
    name: "notify",
    reconciler: new NotificationReconciler({
      store: deps.cache,
      sender: new SinkSender(new PolicySecrets(kubeConfig)),
      access: { store: config.store, stateDir: config.store === "file" ? config.stateDir : undefined },
      metrics: deps.metrics,
      fence: deps.fence,
    }),
    queue: deps.queue,
    logger: deps.logger.child({ controller: "notify" }),
    metrics: deps.metrics,
    workers: NOTIFY_WORKERS,
    reconcileTimeoutMs: NOTIFY_RECONCILE_TIMEOUT_MS,
  });
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
  deps: { targets: Targets; observers: ObserverSet; metrics: StewardMetrics },
): Promise<SessionRunner> {
  const [{ modelClient }, { AgentRunner }, { SessionFiles }, { ProgramPaths }] = await Promise.all([
    import("./model-client.js"),
    import("../agent/runner.js"),
    import("../agent/session-store.js"),
    import("../agent/programs.js"),
  ]);
  const client = await modelClient(config);
  if (!client) throw new Error(`no model client for --provider ${config.provider}`);
  return new AgentRunner({
    files: new SessionFiles(config.stateDir),
    client,
    provider: config.provider,
    model: config.model,
    maxTokens: AGENT_MAX_TOKENS,
    tools: deps.targets.agentTools,
    programs: await ProgramPaths.scan(),
    observer: new SystemObserver(deps.observers),
    verifyTimeoutMs: config.verifyTimeoutMs,
    metrics: deps.metrics,
    runbooks: { dirs: config.runbookDir ? [config.runbookDir] : [], urlPrefixes: config.runbookUrlPrefixes },
  });
}

/**
 * Keeps the remediation gauges equal to what the store holds (remediations by phase, the
 * oldest wait for approval) on every replica, and, on the replica that leads, observes how
 * long each remediation took to resolve (each replica sees the same transitions: counting
 * them on one keeps the histogram's counts true).
 */
class RemediationPhaseTracker {
  private readonly phases = new Map<string, string>();

  constructor(
    private readonly metrics: StewardMetrics,
    private readonly leading: () => boolean,
  ) {}

  apply(event: WatchEvent): void {
    if (event.object.kind !== "AgentRemediation") return;
    const key = `${event.object.metadata.namespace}/${event.object.metadata.name}`;
    const before = this.phases.get(key);
    if (before) this.metrics.remediations.dec({ phase: before });
    if (event.type === "DELETED") {
      this.phases.delete(key);
      this.metrics.setAwaitingApproval(key, undefined);
      return;
    }
    const status = event.object.status ?? emptyRemediationStatus();
    this.phases.set(key, status.phase);
    this.metrics.remediations.inc({ phase: status.phase });
    this.metrics.setAwaitingApproval(key, status.phase === "AwaitingApproval" ? waitingSince(status) : undefined);
    if (status.phase === "Resolved" && before !== undefined && before !== "Resolved") this.resolved(status);
  }

  /** Seen turning Resolved (not listed as Resolved already): how long it took, counted by the leader. */
  private resolved(status: RemediationStatus): void {
    const took = Date.parse(status.closedAt ?? "") - Date.parse(status.openedAt ?? "");
    if (Number.isFinite(took) && this.leading())
      this.metrics.remediationResolveDuration.observe(Math.max(0, took) / 1000);
  }
}

/** When a remediation began waiting for approval: its oldest pending call's request (epoch ms). */
function waitingSince(status: RemediationStatus): number {
  const times = status.pendingApproval.map((p) => Date.parse(p.requestedAt)).filter(Number.isFinite);
  return times.length > 0 ? Math.min(...times) : Date.now();
}
