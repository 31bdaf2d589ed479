import { KINDS } from "../../src/api/resources.js";
import { KubernetesStore } from "../../src/store/kubernetes/kubernetes-store.js";
import { cluster } from "../support/kube.js";
import { storeContract } from "./contract.js";

/** The contract's refs name the `default` namespace, so the stores share it and each fresh one empties it. */
const NAMESPACE = "default";

storeContract("KubernetesStore", {
  fresh: async (options = {}) => {
    const kubeConfig = await cluster();
    const store = new KubernetesStore(kubeConfig, { namespaces: [NAMESPACE], ...options });
    for (const kind of Object.values(KINDS)) {
      for (const object of await store.list(kind.kind)) await store.delete(kind.kind, object.metadata);
    }
    return store;
  },
  peer: async () => new KubernetesStore(await cluster(), { namespaces: [NAMESPACE] }),
});
