import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

/**
 * A kustomize overlay of manifests/ for the test node of scripts/control-plane.sh (used by
 * `npm run demo -- --kubernetes` and test/e2e/kubernetes-in-cluster.test.ts). It changes
 * only what that node cannot do as kind does (scripts/lib/k8s-node.sh says why):
 *
 * - host network for the pod (no pod network), so steward-system's Pod Security level is
 *   `privileged` (even `baseline` refuses host network);
 * - one replica: two on the host network would both bind the metrics port;
 * - the metrics port, on 127.0.0.1, is the caller's (a free one);
 * - KUBERNETES_SERVICE_HOST/PORT name the API server itself: no kube-proxy serves the
 *   `kubernetes` Service;
 * - the image is the caller's, loaded into the node (imagePullPolicy Never: nothing is pulled).
 *
 * RBAC, the ServiceAccount, the security context, probes and resources stay the manifests'.
 */
export interface NodeOverlay {
  /** The manifests/ directory to overlay. */
  manifests: string;
  /** name:tag of the operator image in the node's containerd. */
  image: string;
  metricsPort: number;
  /** The API server, as the kubeconfig names it (https://127.0.0.1:port). */
  apiServer: string;
}

export const SYSTEM_NAMESPACE = "steward-system";

/** Writes the overlay's kustomization.yaml into a new temporary directory and returns it. */
export async function writeNodeOverlay(overlay: NodeOverlay): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "steward-overlay-"));
  const api = new URL(overlay.apiServer);
  const [name, tag] = overlay.image.split(":");
  const container = "/spec/template/spec/containers/0";
  const deploymentPatch = [
    { op: "replace", path: "/spec/replicas", value: 1 },
    { op: "add", path: "/spec/template/spec/hostNetwork", value: true },
    { op: "replace", path: `${container}/imagePullPolicy`, value: "Never" },
    {
      op: "replace",
      path: `${container}/args`,
      value: [
        "run",
        "--store",
        "kubernetes",
        "--targets",
        "kubernetes",
        "--metrics-addr",
        `127.0.0.1:${overlay.metricsPort}`,
      ],
    },
    { op: "replace", path: `${container}/ports/0/containerPort`, value: overlay.metricsPort },
    { op: "add", path: `${container}/env/-`, value: { name: "KUBERNETES_SERVICE_HOST", value: api.hostname } },
    { op: "add", path: `${container}/env/-`, value: { name: "KUBERNETES_SERVICE_PORT", value: api.port } },
  ];
  const namespacePatch = ["enforce", "warn"].map((mode) => ({
    op: "replace",
    path: `/metadata/labels/pod-security.kubernetes.io~1${mode}`,
    value: "privileged",
  }));
  const kustomization = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    // kustomize loads bases by relative path.
    resources: [relative(dir, overlay.manifests)],
    images: [{ name: "steward", newName: name, newTag: tag }],
    patches: [
      { target: { kind: "Deployment", name: "steward" }, patch: JSON.stringify(deploymentPatch) },
      { target: { kind: "Namespace", name: SYSTEM_NAMESPACE }, patch: JSON.stringify(namespacePatch) },
    ],
  };
  await writeFile(join(dir, "kustomization.yaml"), JSON.stringify(kustomization, null, 2));
  return dir;
}
