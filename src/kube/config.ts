import { KubeConfig } from "@kubernetes/client-node";

/** The current kubeconfig context: KUBECONFIG, else ~/.kube/config, else in-cluster. */
export function defaultKubeConfig(): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  return kubeConfig;
}

/** The namespace of the current kubeconfig context, as kubectl uses it without -n; undefined when it sets none. */
export function contextNamespace(): string | undefined {
  try {
    const kubeConfig = defaultKubeConfig();
    return kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace || undefined;
  } catch {
    return undefined;
  }
}
