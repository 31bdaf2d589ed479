import type { DesiredState, InvariantState } from "../../api/desired-state.js";
import type { AgentRemediation } from "../../api/remediation.js";
import { describeTarget } from "../../cli/printers.js";
import { html, type SafeHtml } from "../html.js";
import { driftChart } from "./chart.js";
import { remediationPath } from "./overview.js";
import { ago, conditionBadge, phaseBadge, table, totalTokens } from "./parts.js";

export interface DesiredStateData {
  desiredState: DesiredState;
  /** The remediations opened for it, newest first. */
  remediations: readonly AgentRemediation[];
  now: Date;
}

function services(ds: DesiredState): SafeHtml {
  const drift = ds.status?.drift ?? [];
  return table(
    ["name", "replicas", "running", "healthy", "restart budget", "drift now"],
    ds.spec.services.map((s) => {
      const mine = drift.filter(
        (d) =>
          d.subject === s.name || d.subject.endsWith(`/${s.name}`) || d.subject.toLowerCase() === s.name.toLowerCase(),
      );
      const budget = s.restartBudget ? `${s.restartBudget.max} per ${s.restartBudget.window}` : "3 per 10m (default)";
      return html`<tr data-service="${s.name}">
        <td>${s.name}</td>
        <td class="num">${s.replicas}</td>
        <td>${String(s.running)}</td>
        <td>${String(s.healthy)}</td>
        <td>${budget}</td>
        <td>
          ${mine.length ? mine.map((d) => html`<span class="badge bad">${d.type}</span> ${d.observed} `) : html`<span class="quiet">as declared</span>`}
        </td>
      </tr>`;
    }),
    "No services declared.",
  );
}

const INVARIANT_TONES: Record<InvariantState, string> = {
  Holding: "good",
  Violated: "bad",
  Pending: "ask",
  Unknown: "unknown",
};

function invariants(ds: DesiredState, now: Date): SafeHtml {
  return table(
    ["name", "state", "value", "query", "condition", "for", "since", "reason"],
    ds.spec.invariants.map((spec) => {
      const s = ds.status?.invariants.find((i) => i.name === spec.name) ?? { state: "Unknown" as const };
      return html`<tr>
        <td>${spec.name}</td>
        <td><span class="badge ${INVARIANT_TONES[s.state]}">${s.state}</span></td>
        <td>${"value" in s ? s.value : ""}</td>
        <td><code>${spec.query}</code></td>
        <td>${spec.condition}</td>
        <td>${spec.for}</td>
        <td>${ago("since" in s ? s.since : undefined, now)}</td>
        <td>${"reason" in s ? s.reason : ""}</td>
      </tr>`;
    }),
    "No invariants declared.",
  );
}

function driftTable(ds: DesiredState, now: Date): SafeHtml {
  return table(
    ["subject", "type", "expected", "observed", "since"],
    (ds.status?.drift ?? []).map(
      (d) =>
        html`<tr>
          <td>${d.subject}</td>
          <td>${d.type}</td>
          <td>${d.expected}</td>
          <td>${d.observed}</td>
          <td>${ago(d.since, now)}</td>
        </tr>`,
    ),
    "No drift: everything is as declared.",
  );
}

function fixes(ds: DesiredState, now: Date): SafeHtml {
  const rows = [...(ds.status?.fixes ?? [])].reverse();
  return table(
    ["time", "subject", "action", "result", "message"],
    rows.map((f) => {
      const tone = f.result === "Succeeded" ? "good" : f.result === "Started" ? "busy" : "bad";
      return html`<tr>
        <td>${ago(f.time, now)}</td>
        <td>${f.subject}</td>
        <td>${f.action}</td>
        <td><span class="badge ${tone}">${f.result}</span></td>
        <td>${f.message ?? ""}</td>
      </tr>`;
    }),
    "No simple fixes in the last 24 h.",
  );
}

function remediations(list: readonly AgentRemediation[], now: Date): SafeHtml {
  return table(
    ["name", "phase", "reason", "opened", "tokens"],
    list.map(
      (r) =>
        html`<tr data-remediation="${r.metadata.name}">
          <td><a href="${remediationPath(r)}">${r.metadata.name}</a></td>
          <td>${phaseBadge(r.status?.phase ?? "Pending")}</td>
          <td>${r.status?.reason ?? ""}</td>
          <td>${ago(r.status?.openedAt ?? r.metadata.creationTimestamp, now)}</td>
          <td class="num">${totalTokens(r.status?.usage)}</td>
        </tr>`,
    ),
    "No remediations.",
  );
}

export function desiredStateView(data: DesiredStateData): SafeHtml {
  const { desiredState: ds, now } = data;
  const status = ds.status ?? { conditions: [], drift: [], invariants: [], fixes: [] };
  const conditions = status.conditions;
  const dayAgo = now.getTime() - 86_400_000;
  const recent = data.remediations.filter((r) => Date.parse(r.status?.closedAt ?? now.toISOString()) >= dayAgo);
  return html`<h1>DesiredState ${ds.metadata.name}</h1>
    <p class="conditions">
      ${["Ready", "Drifted", "Remediating", "Degraded"].map((t) => html`${conditionBadge(t, conditions)} `)}
    </p>
    <dl class="facts">
      <dt>target</dt>
      <dd>${describeTarget(ds)}</dd>
      <dt>generation</dt>
      <dd>${ds.metadata.generation ?? 1} (observed ${status.observedGeneration ?? "never"})</dd>
      <dt>agent</dt>
      <dd>${ds.spec.remediation.agent.mode}, policy ${ds.spec.remediation.agent.policyRef}</dd>
      <dt>simple fixes</dt>
      <dd>${ds.spec.remediation.simpleFixes.join(", ") || "disabled"}</dd>
      <dt>last reconcile</dt>
      <dd>${ago(status.lastReconcileTime, now)}</dd>
    </dl>
    <section>
      <h2>Conditions</h2>
      ${table(
        ["type", "status", "reason", "message", "since"],
        conditions.map(
          (c) =>
            html`<tr>
              <td>${c.type}</td>
              <td>${c.status}</td>
              <td>${c.reason}</td>
              <td>${c.message}</td>
              <td>${ago(c.lastTransitionTime, now)}</td>
            </tr>`,
        ),
        "No conditions yet: Steward has not reconciled it.",
      )}
    </section>
    <section>
      <h2>Drift and fixes, last 24 h</h2>
      ${driftChart({
        fixes: status.fixes,
        remediations: recent.map((r) => ({
          name: r.metadata.name,
          openedAt: r.status?.openedAt,
          closedAt: r.status?.closedAt,
        })),
        drift: status.drift,
        now,
      })}
    </section>
    <section>
      <h2>Services</h2>
      ${services(ds)}
    </section>
    <section>
      <h2>Invariants</h2>
      ${invariants(ds, now)}
    </section>
    <section>
      <h2>Drift</h2>
      ${driftTable(ds, now)}
    </section>
    <section>
      <h2>Simple fixes</h2>
      ${fixes(ds, now)}
    </section>
    <section>
      <h2>Remediations</h2>
      ${remediations(data.remediations, now)}
    </section>`;
}
