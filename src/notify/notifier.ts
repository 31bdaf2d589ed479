import { sinkType, type NotificationPolicy } from "../api/notification-policy.js";
import {
  DELIVERY_LEDGER_ANNOTATION,
  deliveryLedger,
  type DeliveryLedger,
  type NotificationRecord,
} from "../api/notifications.js";
import type { AgentRemediation } from "../api/remediation.js";
import type { Fence } from "../kube/fence.js";
import {
  DONE,
  requeueAfter,
  type ReconcileContext,
  type Reconciler,
  type ReconcileRequest,
  type ReconcileResult,
} from "../reconcile/reconciler.js";
import type { Store } from "../store/store.js";
import type { Logger } from "../telemetry/logging.js";
import type { StewardMetrics } from "../telemetry/metrics.js";
import {
  applyOutcome,
  dueDeliveries,
  expand,
  nextDueInMs,
  pendingCount,
  sinkId,
  sinksFor,
  type DueDelivery,
  type SendOutcome,
  type SinkRef,
} from "./deliveries.js";
import { buildNotice, type StoreAccess } from "./notice.js";
import type { SinkSender } from "./send.js";

export interface NotifierDeps {
  /** Reads (the cache), and the ledger's writes (annotate: a merge of that one key). */
  store: Store;
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
 * Delivers a remediation's outbox (`status.notifications`, written by the status's owner
 * with each transition): chooses each new record's sinks by the namespace's
 * NotificationPolicies, sends what is due (per sink in order), and records each outcome in
 * the delivery ledger at once. At least once: a record is sent until its sink acknowledges
 * it, also across crashes, restarts and failovers (records and ledger are on the object);
 * never again once its acknowledgement is recorded. Between the send and that record, a
 * crash sends it once more, with the same Idempotency-Key. The notifier is the ledger's only
 * writer and never writes the status (ADR 0008, 0012).
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
    const { records, stored } = outboxOf(remediation);
    if (!remediation || nothingToDo(records, stored)) return this.settled(request.key, records, stored);
    const policies = await this.deps.store.list("NotificationPolicy", ref.namespace);
    const choose = (record: NotificationRecord): string[] => sinksFor(record, remediation, policies).map(sinkId);
    let ledger = expand(records, stored, choose);
    if (ledger !== stored) await this.write(remediation, ledger);
    for (const item of dueDeliveries(records, ledger, this.now())) {
      const outcome = await this.deliver(remediation, item, { policies, context });
      const maxAttempts = findSink(policies, item.sink)?.sink.maxAttempts ?? 1;
      ledger = applyOutcome(ledger, { recordId: item.record.id, sink: item.sink, maxAttempts }, outcome, {
        now: this.now(),
      });
      await this.write(remediation, ledger);
    }
    return this.settled(request.key, records, ledger);
  }

  /** Sends one delivery; a sink that is gone is an outcome too. A closed fence throws (retried once leading). */
  private async deliver(
    remediation: AgentRemediation,
    item: DueDelivery,
    input: { policies: readonly NotificationPolicy[]; context: ReconcileContext },
  ): Promise<SendOutcome> {
    const ref = findSink(input.policies, item.sink);
    if (!ref) return { type: "permanent", error: `NotificationPolicy sink ${item.sink} no longer exists` };
    this.deps.fence.check(`sending the ${item.record.event} notification of ${remediation.metadata.name}`);
    const notice = buildNotice(remediation, item.record, this.deps.access);
    const outcome = await this.deps.sender.send(ref, notice, input.context.signal);
    this.report(remediation, { item, ref, outcome, logger: input.context.logger });
    return outcome;
  }

  private async write(remediation: AgentRemediation, ledger: DeliveryLedger): Promise<void> {
    await this.deps.store.annotate("AgentRemediation", remediation.metadata, {
      [DELIVERY_LEDGER_ANNOTATION]: JSON.stringify(ledger),
    });
  }

  private report(
    remediation: AgentRemediation,
    sent: { item: DueDelivery; ref: SinkRef; outcome: SendOutcome; logger: Logger },
  ): void {
    const { item, ref, outcome, logger } = sent;
    const type = sinkType(ref.sink);
    const final = outcome.type === "permanent" || item.delivery.attempts + 1 >= ref.sink.maxAttempts;
    const result = outcome.type === "delivered" ? "delivered" : final ? "dead_letter" : "retry";
    this.deps.metrics.notifications.inc({ sink: type, result });
    const meta = {
      remediation: remediation.metadata.name,
      event: item.record.event,
      sink: item.sink,
      attempt: item.delivery.attempts + 1,
    };
    if (outcome.type === "delivered") {
      const seconds = (this.now().getTime() - Date.parse(item.record.at)) / 1000;
      this.deps.metrics.notificationDeliverySeconds.observe({ sink: type }, seconds);
      logger.info("notification delivered", meta);
    } else if (final) {
      logger.error("notification dead-lettered: not sent", { ...meta, error: outcome.error });
    } else {
      logger.warn("notification not delivered; retrying", { ...meta, error: outcome.error });
    }
  }

  /** Keeps the pending gauge, and comes back when the next delivery is due. */
  private settled(key: string, records: readonly NotificationRecord[], ledger: DeliveryLedger): ReconcileResult {
    const count = pendingCount(records, ledger);
    if (count === 0) this.pending.delete(key);
    else this.pending.set(key, count);
    this.deps.metrics.notificationsPending.set([...this.pending.values()].reduce((a, b) => a + b, 0));
    const wait = nextDueInMs(ledger, this.now());
    return wait === undefined ? DONE : requeueAfter(Math.max(MIN_REQUEUE_MS, wait));
  }
}

function findSink(policies: readonly NotificationPolicy[], id: string): SinkRef | undefined {
  for (const policy of policies) {
    for (const sink of policy.spec.sinks) if (sinkId({ policy, sink }) === id) return { policy, sink };
  }
  return undefined;
}

/** Every record's sinks chosen and no delivery pending: nothing to send or write. */
function nothingToDo(records: readonly NotificationRecord[], stored: DeliveryLedger): boolean {
  return pendingCount(records, stored) === 0 && Object.keys(stored).length <= records.length;
}

/** A remediation's outbox records and its delivery ledger; none of either when it is gone. */
function outboxOf(remediation: AgentRemediation | undefined): {
  records: readonly NotificationRecord[];
  stored: DeliveryLedger;
} {
  if (!remediation) return { records: [], stored: {} };
  return { records: remediation.status?.notifications ?? [], stored: deliveryLedger(remediation) };
}
