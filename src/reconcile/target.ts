import type { Target } from "../api/desired-state.js";
import type { ContainerSnapshot } from "../observe/types.js";

/** Whether a container belongs to a DesiredState's Docker target. Pure. */
export function inDockerTarget(target: Target, container: ContainerSnapshot): boolean {
  const docker = target.docker;
  if (!docker) return false;
  if (docker.project !== undefined && container.project !== docker.project) return false;
  for (const [key, value] of Object.entries(docker.selector ?? {})) {
    if (container.labels[key] !== value) return false;
  }
  return true;
}
