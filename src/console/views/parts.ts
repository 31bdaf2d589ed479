import { formatDuration } from "../../api/duration.js";
import type { Condition } from "../../api/meta.js";
import type { RemediationPhase, Usage } from "../../api/remediation.js";
import { html, type SafeHtml } from "../html.js";

/** `3m12s ago`, or `never`; the exact time is the element's title. */
export function ago(time: string | undefined, now: Date): SafeHtml {
  const at = Date.parse(time ?? "");
  if (Number.isNaN(at)) return html`<span class="quiet">never</span>`;
  return html`<time datetime="${time}" title="${time}">${formatDuration(now.getTime() - at)} ago</time>`;
}

export function duration(from: string | undefined, to: string | undefined, now: Date): string {
  const start = Date.parse(from ?? "");
  if (Number.isNaN(start)) return "";
  const end = Date.parse(to ?? "");
  return formatDuration((Number.isNaN(end) ? now.getTime() : end) - start);
}

/** A condition as a coloured word: what "True" means depends on the type (Ready good, Drifted bad). */
export function conditionBadge(type: string, conditions: readonly Condition[]): SafeHtml {
  const c = conditions.find((x) => x.type === type) ?? { status: "Unknown", reason: "", message: "" };
  const good = type === "Ready" ? c.status === "True" : c.status === "False";
  const tone = c.status === "Unknown" ? "unknown" : good ? "good" : "bad";
  const word = type === "Ready" ? c.status : c.status === "True" ? type : "—";
  return html`<span
    class="badge ${tone}"
    data-condition="${type}"
    data-status="${c.status}"
    title="${c.reason}${c.message ? `: ${c.message}` : ""}"
    >${word}</span
  >`;
}

const PHASE_TONES: Record<RemediationPhase, string> = {
  Pending: "unknown",
  Investigating: "busy",
  AwaitingApproval: "ask",
  Remediating: "busy",
  Verifying: "busy",
  Resolved: "good",
  Failed: "bad",
  Escalated: "bad",
  Cancelled: "unknown",
  Interrupted: "bad",
};

export function phaseBadge(phase: RemediationPhase): SafeHtml {
  return html`<span class="badge ${PHASE_TONES[phase]}" data-phase="${phase}">${phase}</span>`;
}

export function decisionBadge(decision: string): SafeHtml {
  const tone = decision === "allow" ? "good" : decision === "deny" ? "bad" : "ask";
  return html`<span class="badge ${tone}" data-decision="${decision}">${decision}</span>`;
}

export function totalTokens(usage: Usage | undefined): number {
  return (usage?.inputTokens ?? 0) + (usage?.outputTokens ?? 0);
}

export function usageText(usage: Usage | undefined): string {
  if (!usage) return "no model calls yet";
  const cache =
    usage.cacheReadTokens || usage.cacheWriteTokens
      ? `, cache read ${usage.cacheReadTokens} / write ${usage.cacheWriteTokens}`
      : "";
  return `${usage.inputTokens} in / ${usage.outputTokens} out tokens${cache}, ~$${usage.estimatedCostUSD.toFixed(4)}`;
}

/** A table, or a quiet line when there are no rows. */
export function table(headers: readonly string[], rows: readonly SafeHtml[], empty: string): SafeHtml {
  if (rows.length === 0) return html`<p class="quiet">${empty}</p>`;
  return html`<table>
    <thead>
      <tr>
        ${headers.map((h) => html`<th>${h}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${rows}
    </tbody>
  </table>`;
}
