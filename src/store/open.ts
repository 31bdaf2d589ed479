import { FileStore } from "./file/file-store.js";
import type { Logger } from "../telemetry/logging.js";
import type { StewardMetrics } from "../telemetry/metrics.js";
import type { EventRecorder } from "./events.js";
import type { Fence } from "../kube/fence.js";
import type { Kind } from "../api/resources.js";
import type { InvalidObject, Store } from "./store.js";

export type StoreKind = "file" | "kubernetes";

/**
 * The store `--store` names: the state directory, or the API server of the current
 * kubeconfig context (KUBECONFIG, else ~/.kube/config, else in-cluster). With `report`, the
 * Kubernetes store's informers log their state and update the store metrics, and its writes
 * pass `report.fence` (the file store has no leader election), and objects that fail
 * validation go to `report.onInvalidObject`. `scope.namespaces` limits the Kubernetes store
 * to those namespaces (all when unset or empty), `scope.kinds` its watch to those kinds (all
 * when unset).
 *
 * The Kubernetes store's modules are imported only when it is chosen: @kubernetes/client-node
 * alone adds about 80 MB of resident memory and seconds of start-up, which a Steward on the
 * file store never needs (ADR 0010).
 */
export async function openStore(
  kind: StoreKind,
  stateDir: string,
  scope: { namespaces?: readonly string[]; kinds?: readonly Kind[] } = {},
  report?: { logger: Logger; metrics?: StewardMetrics; fence?: Fence; onInvalidObject?: (o: InvalidObject) => void },
): Promise<Store> {
  if (kind === "file") return new FileStore(stateDir);
  const [{ KubernetesStore }, { informerReporter }, { defaultKubeConfig }] = await Promise.all([
    import("./kubernetes/kubernetes-store.js"),
    import("./kubernetes/informer-report.js"),
    import("../kube/config.js"),
  ]);
  return new KubernetesStore(defaultKubeConfig(), {
    ...scope,
    fence: report?.fence,
    onInvalidObject: report?.onInvalidObject,
    ...(report ? { onInformerEvent: informerReporter(report.logger, report.metrics) } : {}),
  });
}

/** Kubernetes Events in the kubernetes store; the file store has none (its status and logs say it all). */
export async function openEventRecorder(kind: StoreKind, logger: Logger): Promise<EventRecorder | undefined> {
  if (kind !== "kubernetes") return undefined;
  const [{ KubernetesEventRecorder }, { defaultKubeConfig }] = await Promise.all([
    import("./kubernetes/events.js"),
    import("../kube/config.js"),
  ]);
  return new KubernetesEventRecorder(defaultKubeConfig(), logger);
}
