import { z } from "zod";
import { Severity } from "./alerts.js";
import { API_VERSION, ObjectMeta } from "./meta.js";
import { NotificationEvent } from "./notifications.js";

/**
 * Where a secret (a webhook URL, a signing key, a routing key) is: a file on Steward's host
 * (or a Secret mounted into its pod), or a key of a Secret in the policy's namespace (the
 * kubernetes store only). Secrets are read when a notification is sent, never stored in a
 * resource, never logged.
 */
export const SecretRef = z
  .strictObject({
    file: z
      .string()
      .regex(/^\//, "expected an absolute path")
      .optional()
      .describe("An absolute path; its content, without surrounding whitespace, is the secret."),
    secretKeyRef: z
      .strictObject({
        name: z.string().min(1).describe("The Secret's name, in the NotificationPolicy's namespace."),
        key: z.string().min(1).describe("The key within the Secret's data."),
      })
      .optional()
      .describe("A key of a Secret in the policy's namespace (steward run --store kubernetes)."),
  })
  .superRefine((ref, ctx) => {
    if ((ref.file === undefined) === (ref.secretKeyRef === undefined))
      ctx.addIssue({ code: "custom", message: "expected exactly one of file or secretKeyRef" });
  });
export type SecretRef = z.infer<typeof SecretRef>;

const SlackSink = z.strictObject({
  webhookURL: SecretRef.describe("The Slack incoming webhook URL (https://hooks.slack.com/services/…)."),
});
const WebhookSink = z.strictObject({
  url: SecretRef.describe("The URL the JSON notification is POSTed to."),
  signingKey: SecretRef.optional().describe(
    'HMAC-SHA256 key: each request carries X-Steward-Signature: t=<unix seconds>,v1=<hex HMAC of "<t>.<body>">.',
  ),
});
const PagerDutySink = z.strictObject({
  routingKey: SecretRef.describe("The Events API v2 integration (routing) key."),
  url: z
    .string()
    .regex(/^https?:\/\/[^\s/]+/, "expected an http(s) URL")
    .default("https://events.pagerduty.com/v2/enqueue")
    .describe("The Events API v2 endpoint (the EU one is https://events.eu.pagerduty.com/v2/enqueue)."),
});
const TeamsSink = z.strictObject({
  webhookURL: SecretRef.describe("The Microsoft Teams incoming webhook (Workflows) URL."),
});

/** The sink types, in the order a sink's single key is looked for. */
export const SINK_TYPES = ["slack", "webhook", "pagerduty", "teams"] as const;
export type SinkType = (typeof SINK_TYPES)[number];

export const NotificationSink = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "expected a DNS label like team-slack")
      .describe("Names the sink in status and metrics."),
    slack: SlackSink.optional().describe("A Slack incoming webhook: a Block Kit message."),
    webhook: WebhookSink.optional().describe(
      "Any HTTP endpoint: JSON, an Idempotency-Key header, optionally HMAC-signed.",
    ),
    pagerduty: PagerDutySink.optional().describe(
      "PagerDuty Events API v2: trigger (dedup_key = the remediation's uid) on the events chosen, resolve on Resolved.",
    ),
    teams: TeamsSink.optional().describe("A Microsoft Teams incoming webhook: an Adaptive Card."),
    events: z
      .array(NotificationEvent)
      .min(1)
      .optional()
      .describe("Which transitions to send; default all five (PagerDuty: Escalated, Failed and Resolved)."),
    severities: z.array(Severity).min(1).optional().describe("Only remediations of these severities; default all."),
    maxAttempts: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(10)
      .describe(
        "Sends tried (backoff from 1 s doubling to 5 m, or the sink's Retry-After) before a delivery is dead-lettered.",
      ),
  })
  .superRefine((sink, ctx) => {
    if (SINK_TYPES.filter((type) => sink[type] !== undefined).length !== 1)
      ctx.addIssue({ code: "custom", message: `expected exactly one of ${SINK_TYPES.join(", ")}` });
  });
export type NotificationSink = z.infer<typeof NotificationSink>;

export const NotificationPolicySpec = z
  .strictObject({
    desiredStates: z
      .array(z.string().min(1))
      .max(256)
      .optional()
      .describe("The DesiredStates (of this namespace) whose remediations it covers; all of them when absent."),
    sinks: z.array(NotificationSink).min(1).max(32).describe("Where to send notifications."),
  })
  .superRefine((spec, ctx) => {
    const seen = new Set<string>();
    spec.sinks.forEach((sink, index) => {
      if (seen.has(sink.name))
        ctx.addIssue({
          code: "custom",
          path: ["sinks", index, "name"],
          message: `duplicate name ${JSON.stringify(sink.name)}`,
        });
      seen.add(sink.name);
    });
  });
export type NotificationPolicySpec = z.infer<typeof NotificationPolicySpec>;

export const NotificationPolicy = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal("NotificationPolicy"),
    metadata: ObjectMeta,
    spec: NotificationPolicySpec.describe("Which remediations it covers, and its sinks."),
  })
  .describe(
    "NotificationPolicy says who is told when a remediation of its namespace opens, waits for approval, escalates, fails or resolves: Slack, a signed webhook, PagerDuty or Teams.",
  );
export type NotificationPolicy = z.infer<typeof NotificationPolicy>;

/** The type of a sink (its one configured key). */
export function sinkType(sink: NotificationSink): SinkType {
  return SINK_TYPES.find((type) => sink[type] !== undefined) ?? "webhook";
}

/** Which events a sink sends by default. PagerDuty pages: escalations and failures, and resolves them. */
export function sinkEvents(sink: NotificationSink): readonly NotificationEvent[] {
  if (sink.events) return sink.events;
  return sinkType(sink) === "pagerduty" ? ["Escalated", "Failed", "Resolved"] : NotificationEvent.options;
}
