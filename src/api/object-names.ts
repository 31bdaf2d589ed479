/**
 * The grammars of the names Steward passes to Docker and the API server on someone else's
 * behalf (the agent's tool inputs, a drift subject). A name that breaks its grammar never
 * reaches a URL path: dockerode puts a container reference into the path unencoded
 * (`/containers/../../info`), so the grammar is the first guard and encoding the second.
 */

/** Docker's container name grammar (daemon `restrictedNamePattern`), without the optional leading slash. */
export const DOCKER_CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
/** A full container ID: 64 lower-case hex digits. */
export const DOCKER_CONTAINER_ID = /^[0-9a-f]{64}$/;
/** A Kubernetes DNS-1123 subdomain (pod, Deployment, StatefulSet, ReplicaSet names): at most 253 characters. */
export const DNS1123_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A Kubernetes DNS-1123 label (a pod's container name): at most 63 characters, no dots. */
export const DNS1123_LABEL = /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Whether `reference` may name a container: Docker's name grammar or a full 64-hex ID. */
export function isContainerReference(reference: string): boolean {
  return reference.length <= 253 && (DOCKER_CONTAINER_NAME.test(reference) || DOCKER_CONTAINER_ID.test(reference));
}
