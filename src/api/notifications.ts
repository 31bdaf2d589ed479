import { z } from "zod";
import type { AgentRemediation } from "./remediation.js";

/** The remediation transitions people are told about. */
export const NotificationEvent = z.enum(["Opened", "AwaitingApproval", "Escalated", "Failed", "Resolved"]);
export type NotificationEvent = z.infer<typeof NotificationEvent>;

/**
 * The outbox: one record per transition people are told of, written by the status's owner
 * in the same status write as the transition itself, so it is durable exactly when the
 * transition is (ADR 0012). The record is what is said; who has been told is the delivery
 * ledger (below), which the notifier alone writes.
 */
export const NotificationRecord = z.object({
  id: z
    .string()
    .describe("Unique within the remediation (<event>-<n>); with the remediation's uid, the idempotency key."),
  event: NotificationEvent.describe("The transition."),
  at: z.string().describe("When the transition was written."),
  reason: z.string().optional().describe("The status reason at the transition."),
  message: z.string().optional().describe("The status message at the transition."),
  pending: z
    .array(
      z.object({
        id: z.string().describe("The tool-use id to approve."),
        command: z.string().describe("The command, as the policy saw it."),
      }),
    )
    .optional()
    .describe("The commands awaiting approval at the transition (AwaitingApproval)."),
});
export type NotificationRecord = z.infer<typeof NotificationRecord>;

/**
 * One sink's delivery of one record. `Pending` until the sink acknowledged it (a 2xx): then
 * `Delivered`, and never sent again; `DeadLettered` after the sink's last attempt or an
 * answer that retrying cannot change (a 4xx other than 408, 425 and 429), with the error kept.
 */
export const NotificationDelivery = z.object({
  state: z.enum(["Pending", "Delivered", "DeadLettered"]),
  attempts: z.number().int().nonnegative(),
  nextAttemptAt: z.string().optional(),
  deliveredAt: z.string().optional(),
  lastError: z.string().optional(),
});
export type NotificationDelivery = z.infer<typeof NotificationDelivery>;

/**
 * Record id → sink (`<NotificationPolicy>/<sink>`) → delivery. A record with no entry has
 * not had its sinks chosen yet; one with an empty map went to no sink.
 */
export const DeliveryLedger = z.record(z.string(), z.record(z.string(), NotificationDelivery));
export type DeliveryLedger = z.infer<typeof DeliveryLedger>;

/**
 * Where the ledger is kept: an annotation of the remediation, which only the notifier
 * writes, as a merge of that one key (so it never meets the owner's status writes, and the
 * owner's never undo it); on the API server, so a failover loses nothing.
 */
export const DELIVERY_LEDGER_ANNOTATION = "steward.dev/notifications";

/** The ledger a remediation carries; an absent or unreadable one is empty. */
export function deliveryLedger(remediation: AgentRemediation): DeliveryLedger {
  const text = remediation.metadata.annotations?.[DELIVERY_LEDGER_ANNOTATION];
  if (text === undefined) return {};
  try {
    const parsed = DeliveryLedger.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}
