import type { Notice } from "../notice.js";
import { headline, type RenderedRequest } from "./rendered.js";

const SUMMARY_MAX = 1_024;

/**
 * PagerDuty Events API v2: `resolve` on Resolved, `trigger` on every other event the sink
 * sends (Escalated and Failed by default), with dedup_key the remediation's uid, so every
 * event of one remediation is one PagerDuty alert. The routing key is a secret.
 */
export function renderPagerDuty(notice: Notice, target: { url: URL; routingKey: string }): RenderedRequest {
  const r = notice.remediation;
  const dedupKey = r.uid || `${r.namespace}/${r.name}`;
  const event =
    notice.event === "Resolved"
      ? { routing_key: target.routingKey, event_action: "resolve", dedup_key: dedupKey }
      : {
          routing_key: target.routingKey,
          event_action: "trigger",
          dedup_key: dedupKey,
          payload: {
            summary: summaryOf(notice),
            source: `steward/${notice.desiredState.namespace}/${notice.desiredState.name}`,
            severity: r.severity === "critical" ? "critical" : r.severity === "info" ? "info" : "warning",
            timestamp: notice.at,
            component: notice.drift[0]?.subject ?? notice.desiredState.name,
            group: notice.desiredState.name,
            class: notice.drift[0]?.type ?? "Drift",
            custom_details: {
              event: notice.event,
              remediation: `${r.namespace}/${r.name}`,
              phase: r.phase,
              reason: r.reason,
              message: r.message,
              drift: notice.drift,
              evidence: notice.evidence,
              pending: notice.pending,
              commands: notice.commands,
            },
          },
          client: "Steward",
        };
  return { url: target.url, headers: { "content-type": "application/json" }, body: JSON.stringify(event) };
}

function summaryOf(notice: Notice): string {
  const first = notice.drift[0];
  const what = first ? `: ${first.subject} expected ${first.expected}, observed ${first.observed}` : "";
  const text = `${headline(notice.event, notice.remediation.name)}${what}`;
  return text.length > SUMMARY_MAX ? `${text.slice(0, SUMMARY_MAX - 1)}…` : text;
}
