import { ApiextensionsV1Api, KubeConfig, loadYaml, type V1CustomResourceDefinition } from "@kubernetes/client-node";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { CRD_KUSTOMIZATION } from "../../src/api/crds.js";
import { KINDS } from "../../src/api/resources.js";
import { statusCode } from "../../src/kube/api-errors.js";
import { KubernetesStore } from "../../src/store/kubernetes/kubernetes-store.js";
import { waitFor } from "../../scripts/lib/wait.js";

const HOW_TO_START =
  'no Kubernetes API server: run `bash scripts/control-plane.sh build && eval "$(bash scripts/control-plane.sh up)"`';

let ready: Promise<KubeConfig> | undefined;

/** Loads KUBECONFIG and installs (create-or-replace) the CRDs, once per file. */
export function cluster(): Promise<KubeConfig> {
  ready ??= (async () => {
    if (!process.env.KUBECONFIG) throw new Error(`${HOW_TO_START} (KUBECONFIG is unset)`);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromDefault();
    const api = kubeConfig.makeApiClient(ApiextensionsV1Api);
    const dir = join(import.meta.dirname, "../../crds");
    for (const file of (await readdir(dir)).filter((f) => f.endsWith(".yaml") && f !== CRD_KUSTOMIZATION)) {
      // Into the client's model (x-kubernetes-validations becomes x_kubernetes_validations), or
      // its serializer drops every x-kubernetes-* key: no CEL rules, no list-maps.
      const crd = loadYaml<V1CustomResourceDefinition>(await readFile(join(dir, file), "utf8"));
      const name = crd.metadata?.name ?? file;
      let existing: V1CustomResourceDefinition | undefined;
      try {
        existing = await api.readCustomResourceDefinition({ name });
      } catch (err) {
        if (statusCode(err) !== 404) throw new Error(`${HOW_TO_START} (${String(err)})`, { cause: err });
      }
      if (!existing) await api.createCustomResourceDefinition({ body: crd });
      else
        await api.replaceCustomResourceDefinition({
          name,
          body: { ...crd, metadata: { ...crd.metadata, resourceVersion: existing.metadata?.resourceVersion } },
        });
      await waitFor(
        async () => {
          const current = await api.readCustomResourceDefinition({ name });
          return current.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") ?? false;
        },
        10_000,
        `CRD ${name} Established`,
      );
    }
    return kubeConfig;
  })();
  return ready;
}

/** CRDs installed and no Steward object left in the namespace from an earlier test. */
export async function emptyNamespace(namespace = "default"): Promise<void> {
  const store = new KubernetesStore(await cluster(), { namespaces: [namespace] });
  for (const kind of Object.values(KINDS)) {
    for (const object of await store.list(kind.kind)) await store.delete(kind.kind, object.metadata);
  }
}
