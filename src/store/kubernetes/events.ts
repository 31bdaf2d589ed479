import { EventsV1Api, type KubeConfig } from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Resource } from "../../api/resources.js";
import type { Logger } from "../../telemetry/logging.js";
import type { EventRecorder, StewardEvent } from "../events.js";
import { describeApiError } from "../../kube/api-errors.js";

const REPORTING_CONTROLLER = "steward.dev/steward";
const EVENT_TIMEOUT_MS = 5_000;

/**
 * The API server parses an Event's eventTime as a MicroTime (six fractional digits) and
 * rejects the milliseconds a Date serialises to; the client serialises through
 * toISOString, so the padding goes there.
 */
class MicroTime extends Date {
  override toISOString(): string {
    return super.toISOString().replace(/Z$/, "000Z");
  }
}

/** Writes `events.k8s.io/v1` Events regarding Steward's objects. */
export class KubernetesEventRecorder implements EventRecorder {
  private readonly api: EventsV1Api;
  private readonly instance = hostname();

  constructor(
    kubeConfig: KubeConfig,
    private readonly logger: Logger,
  ) {
    this.api = kubeConfig.makeApiClient(EventsV1Api);
  }

  record(object: Resource, event: StewardEvent): void {
    const { namespace, name, uid, resourceVersion } = object.metadata;
    const body = {
      metadata: { name: `${name}.${Date.now().toString(16)}${randomBytes(2).toString("hex")}`, namespace },
      eventTime: new MicroTime(),
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: this.instance,
      action: event.action,
      reason: event.reason,
      type: event.type,
      note: event.note.slice(0, 1_000),
      regarding: { apiVersion: object.apiVersion, kind: object.kind, name, namespace, uid, resourceVersion },
    };
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`timed out after ${EVENT_TIMEOUT_MS} ms`)), EVENT_TIMEOUT_MS).unref(),
    );
    Promise.race([this.api.createNamespacedEvent({ namespace, body }), timeout]).catch((err: unknown) => {
      this.logger.warn("could not record an Event", {
        regarding: `${object.kind}/${name}`,
        reason: event.reason,
        error: describeApiError(err),
      });
    });
  }
}
