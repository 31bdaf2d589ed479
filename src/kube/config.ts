import { KubeConfig } from "@kubernetes/client-node";

/** The current kubeconfig context: KUBECONFIG, else ~/.kube/config, else in-cluster. */
export function defaultKubeConfig(): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  return kubeConfig;
}
