/**
 * The Kubernetes workload the tests declare and watch: Deployment `web`, its pods labelled
 * `app: web`, one container `main` of image steward-demo/web:1 (never pulled: the test
 * control plane has no node unless a test starts one).
 */
export const WEB_IMAGE = "steward-demo/web:1";

/** Deployment `web` in `namespace`, as YAML for kubectl apply (one document, no leading `---`). */
export function webDeployment(namespace: string, replicas = 2): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${namespace}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: main, image: ${WEB_IMAGE}}]
`;
}
