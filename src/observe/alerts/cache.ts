import { isDeepStrictEqual } from "node:util";
import { errorMessage } from "../../errors.js";
import { backoffDelay, type Backoff } from "../../resilience/backoff.js";
import { sleep } from "../../resilience/deadline.js";
import type { AlertObserver, AlertObserverEvent, ReceivedAlert } from "../types.js";
import type { AlertmanagerClient } from "./alertmanager.js";

export interface AlertCacheOptions {
  /** Lists Alertmanager's alerts at start and every `resyncMs`; without it the cache is webhook-fed only. */
  alertmanager?: AlertmanagerClient;
  logger: {
    info(message: string, meta?: Record<string, unknown>): void;
    warn(message: string, meta?: Record<string, unknown>): void;
  };
  resyncMs?: number;
  now?: () => number;
}

/** How often Alertmanager's alerts are listed again: a missed webhook is noticed within this. */
export const ALERT_RESYNC_MS = 60_000;
/** Resolved alerts are remembered this long, so a remediation they opened sees them resolved. */
export const RESOLVED_RETENTION_MS = 6 * 3_600_000;
const LIST_BACKOFF: Backoff = { baseMs: 1_000, maxMs: 30_000 };

/**
 * The alerts Alertmanager posted (the webhook), as an informer would keep them: level, not
 * events. A firing alert stays firing until a resolved notification arrives or a complete
 * list from Alertmanager's API no longer holds it; Steward never guesses from `endsAt`
 * (the webhook sends none for a firing alert, and a stale one would resolve an alert that
 * still fires). Without Alertmanager's API a restarted Steward knows nothing of alerts that
 * fired before it started, until Alertmanager repeats them (`repeat_interval`); an alert
 * it does not know is neither firing nor resolved.
 */
export class AlertCache implements AlertObserver {
  private readonly alerts = new Map<string, ReceivedAlert & { at: number }>();
  private readonly listeners = new Set<(event: AlertObserverEvent) => void>();
  private readonly closing = new AbortController();
  private readonly now: () => number;
  private listed = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: AlertCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Starts listing Alertmanager's alerts, when its API is configured. */
  start(): void {
    if (this.options.alertmanager && !this.loop) this.loop = this.resyncLoop(this.options.alertmanager);
  }

  async close(): Promise<void> {
    this.closing.abort();
    await this.loop;
  }

  subscribe(listener: (event: AlertObserverEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Takes the alerts of one webhook notification. */
  receive(alerts: readonly ReceivedAlert[]): void {
    for (const alert of alerts) this.put(alert);
    this.prune();
  }

  firing(): readonly ReceivedAlert[] {
    return [...this.alerts.values()].filter((a) => a.status === "firing").map(withoutAt);
  }

  resolved(fingerprint: string): boolean {
    const alert = this.alerts.get(fingerprint);
    return alert ? alert.status === "resolved" : this.listed;
  }

  confirmResolved(fingerprint: string): void {
    const alert = this.alerts.get(fingerprint);
    if (alert?.status !== "firing") return;
    this.put({ ...withoutAt(alert), status: "resolved", endsAt: new Date(this.now()).toISOString() });
  }

  /** Replaces what fires by a complete list: a cached firing alert the list lacks has resolved. */
  replaceAll(active: readonly ReceivedAlert[]): void {
    const listed = new Set(active.map((a) => a.fingerprint));
    for (const alert of active) this.put({ ...alert, receiver: this.alerts.get(alert.fingerprint)?.receiver });
    for (const alert of [...this.alerts.values()]) {
      if (alert.status === "firing" && !listed.has(alert.fingerprint))
        this.put({ ...withoutAt(alert), status: "resolved", endsAt: new Date(this.now()).toISOString() });
    }
    this.listed = true;
    this.prune();
    this.emit({ type: "resynced", count: active.length });
  }

  private put(alert: ReceivedAlert): void {
    const before = this.alerts.get(alert.fingerprint);
    this.alerts.set(alert.fingerprint, { ...alert, at: this.now() });
    const previous = before ? withoutAt(before) : undefined;
    if (previous && previous.status === alert.status && isDeepStrictEqual(previous.labels, alert.labels)) return;
    this.emit({ type: "alert", alert, previous });
  }

  private prune(): void {
    const oldest = this.now() - RESOLVED_RETENTION_MS;
    for (const [fingerprint, alert] of this.alerts) {
      if (alert.status === "resolved" && alert.at < oldest) this.alerts.delete(fingerprint);
    }
  }

  private emit(event: AlertObserverEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private async resyncLoop(client: AlertmanagerClient): Promise<void> {
    const { signal } = this.closing;
    let failures = 0;
    while (!signal.aborted) {
      try {
        this.replaceAll(await client.active(signal));
        if (failures > 0) this.emit({ type: "connection", connected: true });
        failures = 0;
        await sleep(this.options.resyncMs ?? ALERT_RESYNC_MS, signal);
      } catch (err) {
        if (signal.aborted) return;
        const delay = backoffDelay(failures, LIST_BACKOFF);
        if (failures === 0) {
          this.options.logger.warn("cannot list Alertmanager's alerts; retrying", {
            error: errorMessage(err),
            retryInMs: delay,
          });
          this.emit({ type: "connection", connected: false, error: errorMessage(err) });
        }
        failures += 1;
        await sleep(delay, signal);
      }
    }
  }
}

function withoutAt(alert: ReceivedAlert & { at: number }): ReceivedAlert {
  const copy: Partial<ReceivedAlert & { at: number }> = { ...alert };
  delete copy.at;
  return copy as ReceivedAlert;
}
