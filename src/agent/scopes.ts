import type { DesiredState } from "../api/desired-state.js";
import type { RemediationPolicySpec } from "../api/policy.js";
import { containerSecretValues } from "../act/docker.js";
import { DOCKER_CALL_TIMEOUT_MS, statusCodeOf } from "../observe/docker/client.js";
import type { ContainerSnapshot, KubernetesObserver } from "../observe/types.js";
import { inDockerTarget } from "../reconcile/target.js";
import { withDeadline } from "../resilience/deadline.js";
import { mapBounded } from "../resilience/limiter.js";
import { StewardError, errorMessage } from "../errors.js";
import {
  advertisedEndpoints,
  dockerScope,
  kubernetesScope,
  type AgentScope,
  type ContainerFacts,
  type Reach,
} from "./ownership.js";
import type { DockerToolAccess } from "./tools.js";

const INSPECT_CONCURRENCY = 4;

/**
 * Computes a session's scope (ownership.ts) from what the observers hold at the time of
 * each call. For a Docker target it also inspects the target's containers once each, for
 * their secret values and advertised endpoints: a container's configuration never changes,
 * so what was learnt is kept by container ID for as long as the container exists.
 */
export class ScopeObserver {
  private readonly facts = new Map<string, ContainerFacts>();

  constructor(private readonly tools: { docker?: DockerToolAccess; kubernetes?: { observer: KubernetesObserver } }) {}

  async scopeOf(
    desiredState: DesiredState,
    policy: RemediationPolicySpec,
    at: { reach: Reach; signal: AbortSignal },
  ): Promise<AgentScope> {
    const { reach, signal } = at;
    const kubernetes = desiredState.spec.target.kubernetes;
    if (kubernetes) {
      const view = this.tools.kubernetes?.observer.namespace(kubernetes.namespace);
      if (!view?.synced) return { target: "kubernetes", objects: [], endpoints: [...policy.endpoints], secrets: [] };
      return kubernetesScope({ desiredState, policy, view, reach });
    }
    const docker = this.tools.docker;
    if (!docker) return { target: "docker", objects: [], endpoints: [...policy.endpoints], secrets: [] };
    const containers = docker.containers();
    await this.learn(
      containers.filter((c) => inDockerTarget(desiredState.spec.target, c)),
      { docker, all: containers, signal },
    );
    return dockerScope({ desiredState, policy, containers, facts: this.facts, reach });
  }

  /**
   * Inspects the containers not yet known. A container removed meanwhile (404) has nothing
   * left to redact; any other failure fails the call, rather than show output whose
   * secrets are unknown.
   */
  private async learn(
    target: readonly ContainerSnapshot[],
    at: { docker: DockerToolAccess; all: readonly ContainerSnapshot[]; signal: AbortSignal },
  ): Promise<void> {
    const present = new Set(at.all.map((c) => c.id));
    for (const id of this.facts.keys()) if (!present.has(id)) this.facts.delete(id);
    const missing = target.filter((c) => !this.facts.has(c.id));
    await mapBounded(missing, INSPECT_CONCURRENCY, async (c) => {
      try {
        const info = await withDeadline(
          `inspect container ${c.name}`,
          DOCKER_CALL_TIMEOUT_MS,
          (s) => at.docker.client.getContainer(c.id).inspect({ abortSignal: s }),
          at.signal,
        );
        const args = [info.Path ?? "", ...(info.Args ?? [])];
        this.facts.set(c.id, {
          secrets: containerSecretValues(info),
          endpoints: advertisedEndpoints(args, info.Config.Env ?? []),
        });
      } catch (err) {
        if (statusCodeOf(err) === 404) return;
        throw new StewardError(`cannot learn the secrets of container ${c.name}: ${errorMessage(err)}`, {
          cause: err,
        });
      }
    });
  }
}
