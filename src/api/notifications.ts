import { z } from "zod";

/** The remediation transitions people are told about. */
export const NotificationEvent = z.enum(["Opened", "AwaitingApproval", "Escalated", "Failed", "Resolved"]);
export type NotificationEvent = z.infer<typeof NotificationEvent>;

/**
 * One sink's delivery of one notification. `Pending` until the sink acknowledged it (a 2xx):
 * then `Delivered`, and never sent again; `DeadLettered` after the sink's last attempt or an
 * answer that retrying cannot change (a 4xx other than 408 and 429), with the error kept.
 */
export const NotificationDelivery = z.object({
  sink: z.string().describe("<NotificationPolicy name>/<sink name>."),
  state: z
    .enum(["Pending", "Delivered", "DeadLettered"])
    .describe("Pending, Delivered (acknowledged: never sent again) or DeadLettered (given up)."),
  attempts: z.number().int().nonnegative().describe("Sends tried so far."),
  nextAttemptAt: z
    .string()
    .optional()
    .describe("When a Pending delivery is tried again (backoff, or the sink's Retry-After)."),
  deliveredAt: z.string().optional().describe("When the sink acknowledged it."),
  lastError: z
    .string()
    .optional()
    .describe("Why the last attempt failed (the sink's status or the network error; never its URL)."),
});
export type NotificationDelivery = z.infer<typeof NotificationDelivery>;

/**
 * The outbox: one record per transition, written in the same status write as the transition
 * itself, so it is durable exactly when the transition is (ADR 0007). The notifier fills in
 * `deliveries` and works them off; the record is the idempotency key's source.
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
  deliveries: z
    .array(NotificationDelivery)
    .optional()
    .describe(
      "Per sink; absent until the notifier has chosen the sinks (by the NotificationPolicies of the namespace).",
    ),
});
export type NotificationRecord = z.infer<typeof NotificationRecord>;
