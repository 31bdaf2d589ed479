import assert from "node:assert/strict";
import { writeManifest } from "./desired-states.js";
import { cluster } from "./kube.js";
import { kubectlOk } from "./kubectl.js";

/**
 * A kubeconfig for a ServiceAccount: the admin's cluster, a token from the TokenRequest API,
 * `namespace` as the context's default. What a pod with that account would have.
 */
export async function serviceAccountKubeconfig(
  dir: string,
  account: { name: string; namespace: string },
  namespace: string,
): Promise<string> {
  const token = (await kubectlOk("create", "token", account.name, "-n", account.namespace, "--duration", "1h")).trim();
  const server = (await cluster()).getCurrentCluster();
  assert.ok(server?.caData, "the admin kubeconfig carries the cluster CA inline");
  return writeManifest(
    dir,
    `${account.name}-sa.kubeconfig`,
    `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: "${server.server}", certificate-authority-data: ${server.caData}}
users:
- name: ${account.name}
  user: {token: ${token}}
contexts:
- name: ${account.name}
  context: {cluster: test, user: ${account.name}, namespace: ${namespace}}
current-context: ${account.name}
`,
  );
}
