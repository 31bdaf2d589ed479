import { readFile } from "node:fs/promises";
import { StewardError, errorMessage } from "../errors.js";
import { AlertmanagerClient } from "../observe/alerts/alertmanager.js";
import { AlertCache } from "../observe/alerts/cache.js";
import { AlertStatus } from "../observe/alerts/status.js";
import type { AlertObserverEvent, PrometheusClient } from "../observe/types.js";
import { enqueueForAlertEvent, type DesiredStateIndex } from "../reconcile/handlers.js";
import type { ObserverSet } from "../reconcile/observation.js";
import type { WorkQueue } from "../reconcile/queue.js";
import { AlertReceiver } from "../server/alert-receiver.js";
import type { Logger } from "../telemetry/logging.js";
import type { StewardMetrics } from "../telemetry/metrics.js";
import type { RunConfig } from "./config.js";

/** Unmatched alerts remembered so each is logged once; past this the memory starts over. */
const UNMATCHED_REMEMBERED = 10_000;

/**
 * What `--alerts-addr` turns on: the webhook receiver (server/), the alert cache it feeds
 * (an observer, listed from Alertmanager's API with `--alertmanager-url`), and the source
 * verification asks whether an alert still fires. An alert that no DesiredState declares
 * is counted (steward_alerts_unmatched_total) and logged once.
 */
export class AlertIntake {
  readonly observers: Pick<ObserverSet, "alerts" | "alertStatus">;
  private readonly cache: AlertCache;
  private readonly unmatched = new Set<string>();
  private receiver: AlertReceiver | undefined;

  constructor(
    private readonly config: RunConfig,
    private readonly deps: { prometheus: PrometheusClient | undefined; metrics: StewardMetrics; logger: Logger },
  ) {
    const alertmanager = config.alertmanagerUrl
      ? new AlertmanagerClient(config.alertmanagerUrl, config.alertmanagerAllowRemote)
      : undefined;
    this.cache = new AlertCache({ alertmanager, logger: deps.logger });
    this.observers = {
      alerts: this.cache,
      alertStatus: new AlertStatus({ alertmanager, prometheus: deps.prometheus }),
    };
  }

  /** Alert changes enqueue the DesiredStates they concern (handlers only enqueue). */
  subscribe(index: DesiredStateIndex, queue: WorkQueue): void {
    this.cache.subscribe((event) => {
      const matched = enqueueForAlertEvent(event, index, queue);
      if (matched === 0) this.reportUnmatched(event);
    });
  }

  /** Starts the receiver (and the Alertmanager listing); resolves with the address it listens on. */
  async start(): Promise<string> {
    const address = this.config.alertsAddr;
    if (!address) throw new StewardError("AlertIntake started without --alerts-addr");
    const token = this.config.alertsTokenFile ? await readToken(this.config.alertsTokenFile) : undefined;
    this.receiver = new AlertReceiver({
      address,
      token,
      onAlerts: (alerts) => this.cache.receive(alerts),
      metrics: this.deps.metrics,
      logger: this.deps.logger,
    });
    const listening = await this.receiver.start();
    this.cache.start();
    return listening;
  }

  async close(): Promise<void> {
    await this.receiver?.close();
    await this.cache.close();
  }

  private reportUnmatched(event: AlertObserverEvent): void {
    if (event.type !== "alert" || event.alert.status !== "firing") return;
    this.deps.metrics.alertsUnmatched.inc();
    if (this.unmatched.has(event.alert.fingerprint)) return;
    if (this.unmatched.size >= UNMATCHED_REMEMBERED) this.unmatched.clear();
    this.unmatched.add(event.alert.fingerprint);
    this.deps.logger.warn("an alert matches no DesiredState's spec.alerts; nothing acts on it", {
      alertname: event.alert.labels.alertname,
      fingerprint: event.alert.fingerprint,
    });
  }
}

async function readToken(path: string): Promise<string> {
  let token: string;
  try {
    token = (await readFile(path, "utf8")).trim();
  } catch (err) {
    throw new StewardError(`--alerts-token-file ${path}: ${errorMessage(err)}`, { cause: err });
  }
  if (token === "") throw new StewardError(`--alerts-token-file ${path} is empty`);
  return token;
}
