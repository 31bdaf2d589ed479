import { TERMINAL_PHASES, type AgentRemediation, type RemediationPhase } from "../../api/remediation.js";
import type { DesiredState } from "../../api/desired-state.js";
import { describeTarget } from "../../cli/printers.js";
import { emptyRemediationStatus } from "../../reconcile/remediations.js";
import { html, pathOf, type SafeHtml } from "../html.js";
import { ago, conditionBadge, duration, phaseBadge, table, totalTokens } from "./parts.js";

export interface OverviewData {
  desiredStates: readonly DesiredState[];
  remediations: readonly AgentRemediation[];
  now: Date;
}

/** Open phases first, in the order an incident moves through them; then the closed ones. */
const PHASE_ORDER: readonly RemediationPhase[] = [
  "AwaitingApproval",
  "Investigating",
  "Remediating",
  "Verifying",
  "Pending",
  "Escalated",
  "Failed",
  "Interrupted",
  "Resolved",
  "Cancelled",
];

export const remediationPath = (r: AgentRemediation): string =>
  pathOf("remediations", r.metadata.namespace ?? "default", r.metadata.name);
export const desiredStatePath = (namespace: string | undefined, name: string): string =>
  pathOf("desiredstates", namespace ?? "default", name);

function desiredStateRow(ds: DesiredState, now: Date): SafeHtml {
  const status = ds.status ?? { conditions: [], drift: [], invariants: [], fixes: [] };
  const { conditions, activeRemediation: active } = status;
  const namespace = ds.metadata.namespace ?? "default";
  return html`<tr data-desiredstate="${ds.metadata.name}">
    <td><a href="${desiredStatePath(ds.metadata.namespace, ds.metadata.name)}">${ds.metadata.name}</a></td>
    <td>${describeTarget(ds)}</td>
    <td>${conditionBadge("Ready", conditions)}</td>
    <td>${conditionBadge("Drifted", conditions)}</td>
    <td>${conditionBadge("Remediating", conditions)}</td>
    <td>${conditionBadge("Degraded", conditions)}</td>
    <td class="num" data-drift-count="${status.drift.length}">${status.drift.length}</td>
    <td>
      ${active ? html`<a href="${pathOf("remediations", namespace, active)}">${active}</a>` : html`<span class="quiet">none</span>`}
    </td>
    <td>${ago(status.lastReconcileTime, now)}</td>
  </tr>`;
}

function remediationRow(r: AgentRemediation, now: Date): SafeHtml {
  const status = r.status ?? emptyRemediationStatus();
  const phase = status.phase;
  const closed = TERMINAL_PHASES.has(phase);
  return html`<tr data-remediation="${r.metadata.name}">
    <td><a href="${remediationPath(r)}">${r.metadata.name}</a></td>
    <td>${r.spec.desiredStateRef.name}</td>
    <td>${phaseBadge(phase)}</td>
    <td>${status.reason ?? ""}</td>
    <td>${r.spec.drift.map((d) => `${d.subject}: ${d.type}`).join("; ")}</td>
    <td>${ago(status.openedAt ?? r.metadata.creationTimestamp, now)}</td>
    <td>${closed ? duration(status.openedAt, status.closedAt, now) : html`<span class="quiet">open</span>`}</td>
    <td class="num">${totalTokens(status.usage)}</td>
  </tr>`;
}

function awaiting(remediations: readonly AgentRemediation[], now: Date): SafeHtml {
  const waiting = remediations.filter((r) => r.status?.phase === "AwaitingApproval");
  if (waiting.length === 0) return html``;
  return html`<section class="awaiting" id="awaiting">
    <h2>Waiting for you</h2>
    <ul>
      ${waiting.map(
        (r) =>
          html`<li data-remediation="${r.metadata.name}">
            <a href="${remediationPath(r)}">${r.metadata.name}</a>: the agent asks to run
            ${(r.status?.pendingApproval ?? []).map((p) => html`<code>${p.command.join(" ")}</code> `)}
            <span class="quiet">(${ago(r.status?.pendingApproval[0]?.requestedAt, now)})</span>
          </li>`,
      )}
    </ul>
  </section>`;
}

function byPhase(remediations: readonly AgentRemediation[]): AgentRemediation[] {
  const rank = (r: AgentRemediation): number => PHASE_ORDER.indexOf(r.status?.phase ?? "Pending");
  const opened = (r: AgentRemediation): number =>
    Date.parse(r.status?.openedAt ?? r.metadata.creationTimestamp ?? "") || 0;
  return [...remediations].sort((a, b) => rank(a) - rank(b) || opened(b) - opened(a));
}

/** How many remediations are in each phase, in PHASE_ORDER: `2 AwaitingApproval · 5 Resolved`. */
function phaseSummary(remediations: readonly AgentRemediation[]): SafeHtml {
  const counts = PHASE_ORDER.map((phase) => ({
    phase,
    n: remediations.filter((r) => (r.status?.phase ?? "Pending") === phase).length,
  })).filter((c) => c.n > 0);
  if (counts.length === 0) return html``;
  return html`<p class="phase-summary">${counts.map((c) => html`${phaseBadge(c.phase)} ${c.n} `)}</p>`;
}

export function overviewView(data: OverviewData): SafeHtml {
  const { now } = data;
  return html`${awaiting(data.remediations, now)}
    <section id="desiredstates">
      <h2>DesiredStates</h2>
      ${table(
        [
          "name",
          "target",
          "ready",
          "drifted",
          "remediating",
          "degraded",
          "drift",
          "active remediation",
          "last reconcile",
        ],
        data.desiredStates.map((ds) => desiredStateRow(ds, now)),
        "No DesiredStates yet: steward apply -f desired-state.yaml",
      )}
    </section>
    <section id="remediations">
      <h2>Remediations</h2>
      ${phaseSummary(data.remediations)}
      ${table(
        ["name", "desired state", "phase", "reason", "drift", "opened", "took", "tokens"],
        byPhase(data.remediations).map((r) => remediationRow(r, now)),
        "No remediations: nothing has needed more than a simple fix.",
      )}
    </section>`;
}
