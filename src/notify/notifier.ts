import type { NotificationPolicy } from "../api/notification-policy.js";
import type { NotificationRecord } from "../api/notifications.js";
import type { AgentRemediation, RemediationStatus } from "../api/remediation.js";
import type { Fence } from "../kube/fence.js";
import {
  DONE,
  requeueAfter,
  type ReconcileContext,
  type Reconciler,
  type ReconcileRequest,
  type ReconcileResult,
} from "../reconcile/reconciler.js";
import type { ObjectRef, Store } from "../store/store.js";
import type { Logger } from "../telemetry/logging.js";
import type { StewardMetrics } from "../telemetry/metrics.js";
import { sinkType } from "../api/notification-policy.js";
import {
  applyOutcome,
  dueDeliveries,
  expand,
  nextDueInMs,
  pendingCount,
  sinkId,
  type DueDelivery,
  type SendOutcome,
  type SinkRef,
} from "./deliveries.js";
import { buildNotice, type StoreAccess } from "./notice.js";
import type { SinkSender } from "./send.js";

/**
 * Applies a change to a remediation's status on top of what is stored at that moment (not
 * on a copy read earlier), so a delivery's acknowledgement and another writer's transition
 * never overwrite each other. Resolves with the object written, or undefined when it is gone.
 */
export interface RemediationStatusWriter {
  update(
    ref: ObjectRef,
    change: (status: RemediationStatus, remediation: AgentRemediation) => RemediationStatus,
  ): Promise<AgentRemediation | undefined>;
}

export interface NotifierDeps {
  /** Reads (the cache); writes go through `writer`. */
  store: Store;
  writer: RemediationStatusWriter;
  sender: Pick<SinkSender, "send">;
  access: StoreAccess;
  metrics: StewardMetrics;
  /** Closed while this replica does not lead: nothing is sent then. */
  fence: Fence;
  now?: () => Date;
}

/** A delivery due in less than this is sent now rather than after a requeue. */
const MIN_REQUEUE_MS = 50;

/**
 * Delivers a remediation's outbox (status.notifications): chooses each new record's sinks
 * by the namespace's NotificationPolicies, sends what is due (per sink in order), and
 * records each outcome in the status at once. At least once: a record is sent until its
 * sink acknowledges it, also after a crash or a restart (the outbox is in the status); never
 * again once its acknowledgement is recorded. Between the send and that record a crash
 * sends it once more, with the same Idempotency-Key.
 */
export class NotificationReconciler implements Reconciler {
  private readonly now: () => Date;
  private readonly pending = new Map<string, number>();

  constructor(private readonly deps: NotifierDeps) {
    this.now = deps.now ?? ((): Date => new Date());
  }

  async reconcile(request: ReconcileRequest, context: ReconcileContext): Promise<ReconcileResult> {
    const ref = { namespace: request.namespace, name: request.name };
    const remediation = await this.deps.store.get("AgentRemediation", ref);
    if (!remediation?.status || pendingCount(remediation.status) === 0) return this.settled(request.key, undefined);
    const policies = await this.deps.store.list("NotificationPolicy", ref.namespace);
    const expanded = expand(remediation.status, remediation, policies);
    let status: RemediationStatus = expanded;
    const due = dueDeliveries(expanded, this.now());
    if (due.length === 0 && expanded !== remediation.status) {
      status = (await this.write(ref, { policies })) ?? expanded;
    }
    for (const item of due) {
      const outcome = await this.deliver(remediation, item, { policies, context });
      status = (await this.write(ref, { policies, item, outcome })) ?? status;
    }
    return this.settled(request.key, status);
  }

  /** Sends one delivery; a sink that is gone, or a closed fence, is an outcome too. */
  private async deliver(
    remediation: AgentRemediation,
    { record, delivery }: DueDelivery,
    input: { policies: readonly NotificationPolicy[]; context: ReconcileContext },
  ): Promise<SendOutcome> {
    const ref = findSink(input.policies, delivery.sink);
    if (!ref) return { type: "permanent", error: `NotificationPolicy sink ${delivery.sink} no longer exists` };
    this.deps.fence.check(`sending the ${record.event} notification of ${remediation.metadata.name}`);
    const notice = buildNotice(remediation, record, this.deps.access);
    const outcome = await this.deps.sender.send(ref, notice, input.context.signal);
    this.report(remediation, { record, delivery, ref, outcome, logger: input.context.logger });
    return outcome;
  }

  private async write(
    ref: ObjectRef,
    input: { policies: readonly NotificationPolicy[]; item?: DueDelivery; outcome?: SendOutcome },
  ): Promise<RemediationStatus | undefined> {
    const { policies, item, outcome } = input;
    const now = this.now();
    const written = await this.deps.writer.update(ref, (status, remediation) => {
      const expanded = expand(status, remediation, policies);
      if (!item || !outcome) return expanded;
      const sink = findSink(policies, item.delivery.sink)?.sink;
      const target = { recordId: item.record.id, sink: item.delivery.sink, maxAttempts: sink?.maxAttempts ?? 1 };
      return applyOutcome(expanded, target, outcome, { now });
    });
    return written?.status;
  }

  private report(
    remediation: AgentRemediation,
    sent: {
      record: NotificationRecord;
      delivery: { sink: string; attempts: number };
      ref: SinkRef;
      outcome: SendOutcome;
      logger: Logger;
    },
  ): void {
    const { record, delivery, ref, outcome, logger } = sent;
    const type = sinkType(ref.sink);
    const final = outcome.type === "permanent" || delivery.attempts + 1 >= ref.sink.maxAttempts;
    const result = outcome.type === "delivered" ? "delivered" : final ? "dead_letter" : "retry";
    this.deps.metrics.notifications.inc({ sink: type, result });
    const meta = {
      remediation: remediation.metadata.name,
      event: record.event,
      sink: delivery.sink,
      attempt: delivery.attempts + 1,
    };
    if (outcome.type === "delivered") {
      this.deps.metrics.notificationDeliverySeconds.observe(
        { sink: type },
        (this.now().getTime() - Date.parse(record.at)) / 1000,
      );
      logger.info("notification delivered", meta);
    } else if (final) {
      logger.error("notification dead-lettered: not sent", { ...meta, error: outcome.error });
    } else {
      logger.warn("notification not delivered; retrying", { ...meta, error: outcome.error });
    }
  }

  /** Keeps the pending gauge, and comes back when the next delivery is due. */
  private settled(key: string, status: RemediationStatus | undefined): ReconcileResult {
    const count = pendingCount(status);
    if (count === 0) this.pending.delete(key);
    else this.pending.set(key, count);
    this.deps.metrics.notificationsPending.set([...this.pending.values()].reduce((a, b) => a + b, 0));
    const wait = status ? nextDueInMs(status, this.now()) : undefined;
    return wait === undefined ? DONE : requeueAfter(Math.max(MIN_REQUEUE_MS, wait));
  }
}

function findSink(policies: readonly NotificationPolicy[], id: string): SinkRef | undefined {
  for (const policy of policies) {
    for (const sink of policy.spec.sinks) if (sinkId({ policy, sink }) === id) return { policy, sink };
  }
  return undefined;
}
