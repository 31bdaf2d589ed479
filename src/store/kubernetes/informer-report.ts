import type { Logger } from "../../telemetry/logging.js";
import type { StewardMetrics } from "../../telemetry/metrics.js";
import { INTERRUPT_REASONS } from "../../kube/informer.js";
import type { KindInformerEvent } from "./kubernetes-store.js";

/**
 * Turns the informers' reports into log lines and metrics: a normal watch cycle is debug,
 * an interruption that stops events from flowing is a warning, its recovery is info with
 * how long events did not flow. `steward_observer_connected{observer="store"}` is 1 while
 * every informer is watching; `steward_store_watch_restarts_total{reason}` counts restarts.
 */
export function informerReporter(logger: Logger, metrics?: StewardMetrics): (event: KindInformerEvent) => void {
  const down = new Set<string>();
  for (const reason of INTERRUPT_REASONS) metrics?.storeWatchRestarts.inc({ reason }, 0);
  const connected = (): void => metrics?.observerConnected.set({ observer: "store" }, down.size === 0 ? 1 : 0);
  return (event) => {
    const { kind } = event;
    switch (event.type) {
      case "listed":
        logger.info("informer listed", { kind, objects: event.count, resourceVersion: event.resourceVersion });
        return;
      case "watching":
        down.delete(kind);
        connected();
        if (event.downMs === undefined)
          logger.debug("informer watching", { kind, resourceVersion: event.resourceVersion });
        else
          logger.info("informer watching again", {
            kind,
            resourceVersion: event.resourceVersion,
            downMs: event.downMs,
          });
        return;
      case "interrupted": {
        metrics?.storeWatchRestarts.inc({ reason: event.reason });
        const meta = { kind, reason: event.reason, retryInMs: event.retryInMs, error: event.error };
        if (event.reason === "ended") return logger.debug("informer watch ended; watching again", meta);
        if (event.reason === "expired") return logger.info("informer resourceVersion expired; relisting", meta);
        down.add(kind);
        connected();
        logger.warn("informer watch interrupted; retrying", meta);
        return;
      }
      case "resynced":
        logger.debug("informer resynced", { kind, objects: event.count });
        return;
      case "listener-failed":
        logger.warn("a store watch listener threw; ignored", { kind, error: event.error });
        return;
    }
  };
}
