import { z } from "zod";
import { MatcherText } from "./alert-matchers.js";

export const Severity = z.enum(["info", "warning", "critical"]);
export type Severity = z.infer<typeof Severity>;

/**
 * An Alertmanager alert a DesiredState owns: while one that matches fires, it is drift
 * (`AlertFiring`, one per alert, subject `alert/<fingerprint>`).
 */
export const AlertSpec = z.strictObject({
  alertname: z.string().min(1).max(256).describe("The alert's alertname label, matched exactly."),
  matchers: z
    .array(MatcherText)
    .max(32)
    .default([])
    .describe('More label matchers in Alertmanager\'s syntax, all of which must hold (["job=\\"etcd\\""]).'),
  severity: Severity.optional().describe(
    "The severity Steward gives a remediation this alert opens (notification filters use it); by default the alert's own severity label when it is info, warning or critical, else warning.",
  ),
});
export type AlertSpec = z.infer<typeof AlertSpec>;

/** What Alertmanager said about the alert when the remediation opened; redacted, bounded. */
export const AlertEvidence = z.object({
  alertname: z.string().describe("The alert's alertname label."),
  fingerprint: z
    .string()
    .describe("Alertmanager's fingerprint of the alert's labels: the drift subject is alert/<fingerprint>."),
  status: z.string().describe("firing or resolved, as Alertmanager last reported it."),
  labels: z.record(z.string(), z.string()).describe("The alert's labels (values redacted)."),
  annotations: z
    .record(z.string(), z.string())
    .describe("The alert's annotations, such as summary, description and runbook_url (values redacted)."),
  startsAt: z.string().describe("When the alert started firing, by Prometheus's clock."),
  generatorURL: z.string().optional().describe("The Prometheus expression browser URL of the rule that fired."),
  receiver: z.string().optional().describe("The Alertmanager receiver that posted it to Steward."),
});
export type AlertEvidence = z.infer<typeof AlertEvidence>;
