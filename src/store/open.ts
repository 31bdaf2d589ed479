import { KubeConfig } from "@kubernetes/client-node";
import { FileStore } from "./file/file-store.js";
import { KubernetesStore } from "./kubernetes/kubernetes-store.js";
import type { Logger } from "../logging.js";
import type { EventRecorder } from "./events.js";
import { KubernetesEventRecorder } from "./kubernetes/events.js";
import type { Store } from "./store.js";

export type StoreKind = "file" | "kubernetes";

/**
 * The store `--store` names: the state directory, or the API server of the current
 * kubeconfig context (KUBECONFIG, else ~/.kube/config, else in-cluster). `namespace`
 * limits the Kubernetes store to one namespace (all when unset).
 */
export function openStore(kind: StoreKind, stateDir: string, namespace?: string): Store {
  return kind === "file" ? new FileStore(stateDir) : new KubernetesStore(defaultKubeConfig(), { namespace });
}

/** Kubernetes Events in the kubernetes store; the file store has none (its status and logs say it all). */
export function openEventRecorder(kind: StoreKind, logger: Logger): EventRecorder | undefined {
  return kind === "kubernetes" ? new KubernetesEventRecorder(defaultKubeConfig(), logger) : undefined;
}

/** The current kubeconfig context: KUBECONFIG, else ~/.kube/config, else in-cluster. */
export function defaultKubeConfig(): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  return kubeConfig;
}
