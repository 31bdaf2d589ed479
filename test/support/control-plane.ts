import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const SCRIPT = new URL("../../scripts/control-plane.sh", import.meta.url).pathname;

/**
 * The run dir of the control plane KUBECONFIG points at. Restarting "the" control plane
 * must restart the one this test talks to, never a default one other tests may be using.
 */
export function controlPlaneRunDir(): string {
  const kubeconfig = process.env.KUBECONFIG;
  if (!kubeconfig)
    throw new Error("KUBECONFIG is unset; run the test through scripts/test.sh, which starts a control plane");
  const dir = dirname(kubeconfig);
  if (!existsSync(join(dir, ".steward-k8s-run"))) {
    throw new Error(
      `KUBECONFIG=${kubeconfig} was not written by scripts/control-plane.sh, so this test cannot restart its API server; start one with: STEWARD_K8S_RUN=/tmp/steward-k8s-mine bash scripts/control-plane.sh up`,
    );
  }
  return dir;
}

/**
 * Stops kube-apiserver (etcd stays up) and starts it again with the same port, certificates
 * and token, after `downSeconds` (an outage); resolves once /readyz answers.
 */
export async function restartApiServer(downSeconds = 0): Promise<void> {
  await run("bash", [SCRIPT, "restart-apiserver", String(downSeconds)], {
    env: { ...process.env, STEWARD_K8S_RUN: controlPlaneRunDir() },
    timeout: 180_000 + downSeconds * 1_000,
  });
}
