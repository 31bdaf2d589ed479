import { z } from "zod";
import type { ReceivedAlert } from "../types.js";

/**
 * Alertmanager's webhook payload, version 4 (the only version it has sent since 0.x): a
 * group of alerts with their labels, annotations and fingerprint. Every string and list is
 * bounded; anything else (an older version, a wrong type, an alert without a fingerprint)
 * is refused with a reason, never half-read.
 */
const MAX_ALERTS = 1_000;
const MAX_LABELS = 128;
const MAX_NAME = 256;
const MAX_VALUE = 16_384;

const LabelSet = z
  .record(z.string().min(1).max(MAX_NAME), z.string().max(MAX_VALUE))
  .refine((labels) => Object.keys(labels).length <= MAX_LABELS, `more than ${MAX_LABELS} labels`);

const Timestamp = z
  .string()
  .max(64)
  .refine((text) => !Number.isNaN(Date.parse(text)), "expected an RFC 3339 time");

const WebhookAlert = z.object({
  status: z.enum(["firing", "resolved"]),
  labels: LabelSet.refine((labels) => typeof labels.alertname === "string", "the alertname label is missing"),
  annotations: LabelSet.default({}),
  startsAt: Timestamp,
  endsAt: Timestamp.optional(),
  generatorURL: z.string().max(4_096).optional(),
  fingerprint: z.string().regex(/^[0-9a-f]{1,32}$/, "expected Alertmanager's hex fingerprint"),
});

const WebhookPayload = z.object({
  version: z.literal("4", { error: 'expected version "4" (Alertmanager\'s webhook payload)' }),
  receiver: z.string().max(MAX_NAME).default(""),
  status: z.enum(["firing", "resolved"]).optional(),
  alerts: z.array(WebhookAlert).max(MAX_ALERTS),
});

export type ParsedPayload = { ok: true; alerts: ReceivedAlert[] } | { ok: false; reason: string };

/** Reads a webhook body; a refusal says which field and what was wrong, in one line. */
export function parseWebhookPayload(body: unknown): ParsedPayload {
  const result = WebhookPayload.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    return { ok: false, reason: `${where}${issue?.message ?? "malformed payload"}` };
  }
  const { receiver } = result.data;
  return {
    ok: true,
    alerts: result.data.alerts.map((a) => ({
      fingerprint: a.fingerprint,
      status: a.status,
      labels: a.labels,
      annotations: a.annotations,
      startsAt: a.startsAt,
      endsAt: a.endsAt,
      generatorURL: a.generatorURL || undefined,
      receiver: receiver || undefined,
    })),
  };
}
