import type { AuditVerifyResult } from "../../agent/audit.js";
import { approvalFor } from "../../api/approvals.js";
import type {
  AgentRemediation,
  ContainerEvidence,
  DriftWithEvidence,
  MetricEvidence,
  PendingApproval,
} from "../../api/remediation.js";
import { TERMINAL_PHASES } from "../../api/remediation.js";
import { emptyRemediationStatus } from "../../reconcile/remediations.js";
import { html, pathOf, type SafeHtml } from "../html.js";
import type { TimelineStep } from "../timeline.js";
import { desiredStatePath, remediationPath } from "./overview.js";
import { ago, decisionBadge, duration, phaseBadge, table, usageText } from "./parts.js";
import { timelineView } from "./timeline.js";

/** The audit trail as the console found it in the state directory. */
export type AuditView =
  | { state: "missing"; path: string }
  | { state: "unreadable"; path: string; error: string }
  | { state: "read"; path: string; steps: readonly TimelineStep[]; verified: AuditVerifyResult };

export interface RemediationData {
  remediation: AgentRemediation;
  audit: AuditView;
  /** The session's CSRF token, which every form carries. */
  csrf: string;
  now: Date;
}

export const decisionPath = (r: AgentRemediation): string =>
  pathOf("remediations", r.metadata.namespace ?? "default", r.metadata.name, "decision");

function decisionForms(r: AgentRemediation, p: PendingApproval, csrf: string): SafeHtml {
  const decided = approvalFor(r, p.id);
  if (decided)
    return html`<p
      class="decided ${decided.approved ? "good" : "bad"}"
      data-decided="${decided.approved ? "approved" : "denied"}"
    >
      ${decided.approved ? "Approved" : "Denied"} by ${decided.by}${decided.reason ? `: ${decided.reason}` : ""}.
      Waiting for Steward to continue the session.
    </p>`;
  const action = decisionPath(r);
  return html`<div class="decide" data-keep="${p.id}">
    <form method="post" action="${action}" class="approve-form">
      <input type="hidden" name="csrf" value="${csrf}" /><input type="hidden" name="id" value="${p.id}" /><input
        type="hidden"
        name="decision"
        value="approve"
      />
      <button type="submit" class="approve" data-action="approve">Approve</button>
    </form>
    <form method="post" action="${action}" class="deny-form">
      <input type="hidden" name="csrf" value="${csrf}" /><input type="hidden" name="id" value="${p.id}" /><input
        type="hidden"
        name="decision"
        value="deny"
      />
      <label
        >Reason <input type="text" name="reason" maxlength="1000" required placeholder="why not; the model is told"
      /></label>
      <button type="submit" class="deny" data-action="deny">Deny</button>
    </form>
  </div>`;
}

function pending(r: AgentRemediation, csrf: string, now: Date): SafeHtml {
  const status = r.status;
  if (status?.phase !== "AwaitingApproval" || status.pendingApproval.length === 0) return html``;
  return html`<section class="awaiting" id="pending">
    <h2>Waiting for your approval</h2>
    ${status.pendingApproval.map(
      (p) =>
        html`<div class="pending" data-pending-id="${p.id}">
          <p>
            The agent asks to run <code class="command">${p.command.join(" ")}</code>
            <span class="quiet">(${p.tool}, call ${p.id}, asked ${ago(p.requestedAt, now)})</span>
          </p>
          <p class="quiet">Why it needs you: ${p.reason}</p>
          ${decisionForms(r, p, csrf)}
        </div>`,
    )}
  </section>`;
}

function container(c: ContainerEvidence): SafeHtml {
  const facts = [
    `state ${c.state}`,
    c.health ? `health ${c.health}` : "",
    c.exitCode !== undefined ? `exit code ${c.exitCode}` : "",
    c.restartCount !== undefined ? `restarts ${c.restartCount}` : "",
    c.oomKilled ? "OOM-killed" : "",
  ].filter(Boolean);
  return html`<div class="container-evidence" data-container="${c.name}">
    <h4>container ${c.pod ? `${c.pod}/` : ""}${c.name}</h4>
    <p>${facts.join(", ")}</p>
    ${c.error ? html`<p class="bad">Docker's error: ${c.error}</p>` : ""}
    ${
      c.logs.length
        ? html`<p class="quiet">last ${c.logs.length} log lines</p>
            <pre class="logs" tabindex="0">${c.logs.join("\n")}</pre>`
        : html`<p class="quiet">no log lines</p>`
    }
  </div>`;
}

function metric(m: MetricEvidence): SafeHtml {
  return html`<div class="metric-evidence">
    <p><code>${m.query}</code> must be <code>${m.condition}</code></p>
    ${m.error ? html`<p class="bad">query error: ${m.error}</p>` : ""}
    ${table(
      ["labels", "value"],
      m.samples.map(
        (s) =>
          html`<tr>
            <td><code>${JSON.stringify(s.labels)}</code></td>
            <td class="num">${s.value}</td>
          </tr>`,
      ),
      m.error ? "" : "no series",
    )}
  </div>`;
}

function evidence(d: DriftWithEvidence): SafeHtml {
  const w = d.evidence.workload;
  return html`<div class="drift-evidence">
    <h3>${d.subject} <span class="badge bad">${d.type}</span></h3>
    <p>
      expected ${d.expected}, observed ${d.observed}, since
      ${d.since}${d.evidence.fixesTried ? `; simple fixes tried: ${d.evidence.fixesTried}` : ""}
    </p>
    ${w ? html`<p>${w.kind} ${w.name}: ${w.replicas} replicas, ${w.readyReplicas} ready, ${w.updatedReplicas} updated; pods ${w.pods.join(", ") || "none"}</p>` : ""}
    ${(d.evidence.containers ?? []).map(container)} ${d.evidence.metric ? metric(d.evidence.metric) : ""}
  </div>`;
}

function actions(r: AgentRemediation, now: Date): SafeHtml {
  return table(
    ["time", "command", "decision", "approver", "outcome"],
    (r.status?.actions ?? []).map((a) => {
      const outcome =
        a.state === "Started" || a.state === "Unknown"
          ? "unknown"
          : a.decision === "deny"
            ? "not run"
            : `exit ${a.exitCode ?? "?"}`;
      return html`<tr data-action="${a.id}">
        <td>${ago(a.time, now)}</td>
        <td><code>${a.command.join(" ")}</code>${a.dryRun ? " (dry run)" : ""}</td>
        <td>${decisionBadge(a.decision)}</td>
        <td>${a.approver ?? ""}</td>
        <td>${outcome}</td>
      </tr>`;
    }),
    "No changes made or refused yet.",
  );
}

function auditSection(audit: AuditView): SafeHtml {
  switch (audit.state) {
    case "missing":
      return html`<p class="quiet" data-audit="missing">
        No audit trail at <code>${audit.path}</code>: no agent session has run for it, or it ran with another state
        directory (a Steward in a cluster keeps it in its own; pass that as --state-dir to see the reasoning here).
      </p>`;
    case "unreadable":
      return html`<p class="bad" data-audit="unreadable">
        The audit trail <code>${audit.path}</code> cannot be read: ${audit.error}
      </p>`;
    case "read":
      return audit.verified.ok
        ? html`<p class="good" data-audit="verified">
            verified: ${audit.verified.entries} entries, hash chain intact (<code>${audit.path}</code>)
          </p>`
        : html`<p class="bad" data-audit="broken">
            NOT verified: line ${audit.verified.line}: ${audit.verified.reason} (<code>${audit.path}</code>)
          </p>`;
  }
}

function statusFacts(r: AgentRemediation, now: Date): SafeHtml {
  const status = r.status ?? emptyRemediationStatus();
  const closed = TERMINAL_PHASES.has(status.phase);
  return html`<dt>opened</dt>
    <dd>${ago(status.openedAt ?? r.metadata.creationTimestamp, now)}</dd>
    <dt>${closed ? "time to close" : "open for"}</dt>
    <dd data-took>${duration(status.openedAt, status.closedAt, now)}</dd>
    <dt>attempts</dt>
    <dd>${status.attempts.length} of ${r.spec.maxAttempts}</dd>
    <dt>verified</dt>
    <dd>${status.verifiedAt ? ago(status.verifiedAt, now) : "not yet"}</dd>
    <dt>usage and cost</dt>
    <dd data-usage>${usageText(status.usage)}</dd>`;
}

function facts(r: AgentRemediation, now: Date): SafeHtml {
  const ref = r.spec.desiredStateRef;
  return html`<dl class="facts">
    <dt>desired state</dt>
    <dd><a href="${desiredStatePath(ref.namespace ?? r.metadata.namespace, ref.name)}">${ref.name}</a></dd>
    <dt>opened because</dt>
    <dd>${r.spec.reason}</dd>
    <dt>mode, policy</dt>
    <dd>${r.spec.mode}, ${r.spec.policyRef}</dd>
    ${statusFacts(r, now)}
  </dl>`;
}

export function remediationView(data: RemediationData): SafeHtml {
  const { remediation: r, now } = data;
  const status = r.status;
  return html`<h1>Remediation ${r.metadata.name} ${phaseBadge(status?.phase ?? "Pending")}</h1>
    <p class="message">${status?.reason ? html`<strong>${status.reason}</strong>: ` : ""}${status?.message ?? ""}</p>
    ${pending(r, data.csrf, now)} ${facts(r, now)}
    ${
      status?.summary
        ? html`<section>
            <h2>Summary</h2>
            <p class="model-text">${status.summary}</p>
          </section>`
        : ""
    }
    <section id="evidence">
      <h2>Evidence</h2>
      ${r.spec.drift.map(evidence)}
    </section>
    <section id="reasoning">
      <h2>Reasoning chain</h2>
      ${data.audit.state === "read" ? timelineView(data.audit.steps) : ""}
    </section>
    <section id="actions">
      <h2>Changes</h2>
      ${actions(r, now)}
    </section>
    <section id="audit">
      <h2>Audit trail</h2>
      ${auditSection(data.audit)}
    </section>
    <p class="quiet"><a href="${remediationPath(r)}">permalink</a></p>`;
}
