import { AppsV1Api, CoreV1Api, type CoreV1Event, type KubeConfig } from "@kubernetes/client-node";
import { StewardError } from "../errors.js";
import { OPEN_FENCE, type Fence } from "../kube/fence.js";
import { describeApiError } from "../kube/api-errors.js";
import { MERGE_PATCH, requestOptions } from "../kube/request-options.js";
import type { WorkloadRef } from "../observe/types.js";
import type { KubernetesActions, KubernetesEventLine } from "./types.js";

/** The annotation `kubectl rollout restart` stamps on the pod template. */
export const RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt";
const MAX_EVENTS = 50;

/** KubernetesActions on the API server, each call with a deadline; every change passes `fence` first (see Fence). */
export class ApiServerActions implements KubernetesActions {
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;

  constructor(
    kubeConfig: KubeConfig,
    private readonly timeoutMs = 10_000,
    private readonly fence: Fence = OPEN_FENCE,
  ) {
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  async scale(workload: WorkloadRef, replicas: number, signal?: AbortSignal): Promise<void> {
    this.fence.check(`scaling ${workload.kind}/${workload.name}`);
    const request = { name: workload.name, namespace: workload.namespace, body: { spec: { replicas } } };
    const options = requestOptions({ timeoutMs: this.timeoutMs, signal, contentType: MERGE_PATCH });
    await this.call(`scaling ${workload.kind}/${workload.name} to ${replicas}`, () =>
      workload.kind === "Deployment"
        ? this.apps.patchNamespacedDeploymentScale(request, options)
        : this.apps.patchNamespacedStatefulSetScale(request, options),
    );
  }

  async rolloutRestart(workload: WorkloadRef, signal?: AbortSignal): Promise<void> {
    this.fence.check(`restarting ${workload.kind}/${workload.name}`);
    const body = {
      spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: new Date().toISOString() } } } },
    };
    const request = { name: workload.name, namespace: workload.namespace, body };
    const options = requestOptions({ timeoutMs: this.timeoutMs, signal, contentType: MERGE_PATCH });
    await this.call(`restarting ${workload.kind}/${workload.name}`, () =>
      workload.kind === "Deployment"
        ? this.apps.patchNamespacedDeployment(request, options)
        : this.apps.patchNamespacedStatefulSet(request, options),
    );
  }

  async deletePod(namespace: string, pod: { name: string; uid?: string }, signal?: AbortSignal): Promise<void> {
    const { name, uid } = pod;
    this.fence.check(`deleting pod ${name}`);
    const body = uid ? { preconditions: { uid } } : undefined;
    await this.call(`deleting pod ${name}`, () =>
      this.core.deleteNamespacedPod({ name, namespace, body }, requestOptions({ timeoutMs: this.timeoutMs, signal })),
    );
  }

  async logs(
    namespace: string,
    pod: string,
    options: { container?: string; tail: number; previous?: boolean },
    signal?: AbortSignal,
  ): Promise<string[]> {
    const text = await this.call(`reading the logs of pod ${pod}`, () =>
      this.core.readNamespacedPodLog(
        { name: pod, namespace, container: options.container, tailLines: options.tail, previous: options.previous },
        requestOptions({ timeoutMs: this.timeoutMs, signal }),
      ),
    );
    return text.split("\n").filter((line, index, all) => line !== "" || index < all.length - 1);
  }

  async events(namespace: string, object?: string, signal?: AbortSignal): Promise<KubernetesEventLine[]> {
    const list = await this.call("listing events", () =>
      this.core.listNamespacedEvent(
        { namespace, fieldSelector: object ? `involvedObject.name=${object}` : undefined },
        requestOptions({ timeoutMs: this.timeoutMs, signal }),
      ),
    );
    return list.items
      .sort((a, b) => eventTime(a) - eventTime(b))
      .slice(-MAX_EVENTS)
      .map((event) => ({ regarding: regarding(event), line: formatEvent(event) }));
  }

  private async call<T>(step: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      throw new StewardError(`${step}: ${describeApiError(err)}`, { cause: err });
    }
  }
}

function eventTime(event: CoreV1Event): number {
  const at = event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp ?? event.metadata.creationTimestamp;
  return at ? new Date(at).getTime() : 0;
}

const regarding = (event: CoreV1Event): string =>
  `${(event.involvedObject.kind ?? "").toLowerCase()}/${event.involvedObject.name ?? ""}`;

/** One line per event, like `kubectl get events`: when, type, reason, object, count, message. */
function formatEvent(event: CoreV1Event): string {
  const at = eventTime(event);
  const when = at > 0 ? new Date(at).toISOString() : "-";
  const object = regarding(event);
  const count = (event.count ?? 1) > 1 ? ` (x${event.count})` : "";
  return `${when} ${event.type ?? ""} ${event.reason ?? ""} ${object}${count}: ${event.message ?? ""}`
    .replace(/\s+/g, " ")
    .trim();
}
