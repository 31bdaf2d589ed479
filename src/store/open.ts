import { KubeConfig } from "@kubernetes/client-node";
import { FileStore } from "./file/file-store.js";
import { KubernetesStore } from "./kubernetes/kubernetes-store.js";
import type { Store } from "./store.js";

export type StoreKind = "file" | "kubernetes";

/**
 * The store `--store` names: the state directory, or the API server of the current
 * kubeconfig context (KUBECONFIG, else ~/.kube/config, else in-cluster).
 */
export function openStore(kind: StoreKind, stateDir: string): Store {
  if (kind === "file") return new FileStore(stateDir);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  return new KubernetesStore(kubeConfig);
}
