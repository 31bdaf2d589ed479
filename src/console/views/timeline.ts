import { html, type SafeHtml } from "../html.js";
import type { CallStep, TimelineStep } from "../timeline.js";
import { decisionBadge } from "./parts.js";

/** Long tool output and model text stay readable: the rest is one click away. */
const PREVIEW_LINES = 12;

function clock(time: string): SafeHtml {
  return html`<time datetime="${time}" title="${time}">${time.slice(11, 19) || "??:??:??"}</time>`;
}

function output(text: string): SafeHtml {
  const lines = text.replace(/\n+$/, "").split("\n");
  if (lines.length <= PREVIEW_LINES) return html`<pre class="output">${text || "(no output)"}</pre>`;
  return html`<details>
    <summary>${lines.length} lines of output</summary>
    <pre class="output">${text}</pre>
  </details>`;
}

function policyLine(d: CallStep["decision"]): SafeHtml | "" {
  if (!d) return "";
  const rule =
    d.rule !== undefined
      ? html` by rule <code>${d.rule}</code>`
      : d.stage
        ? html` <span class="quiet">(${d.stage})</span>`
        : "";
  return html`<div class="policy">
    policy: ${decisionBadge(d.decision)}${rule}${d.reason ? html` <span class="quiet">${d.reason}</span>` : ""}
  </div>`;
}

function approvalLine(a: CallStep["approval"]): SafeHtml | "" {
  if (!a) return "";
  return html`<div class="approval ${a.approved ? "good" : "bad"}">
    ${a.approved ? "approved" : "denied"} by ${a.by}${a.reason ? `: ${a.reason}` : ""}
  </div>`;
}

function changeLine(c: CallStep["change"]): SafeHtml | "" {
  if (!c) return "";
  const what =
    c.state === "Unknown"
      ? "outcome unknown (Steward stopped while it ran); not run again"
      : "change recorded before it ran";
  return html`<div class="change">${what}${c.reason ? ` (${c.reason})` : ""}</div>`;
}

function resultBlock(r: CallStep["result"]): SafeHtml {
  if (!r) return html`<div class="quiet">no result yet</div>`;
  const status = [
    r.isError ? "error" : "",
    r.exitCode !== undefined ? `exit ${r.exitCode}` : "",
    r.durationMs !== undefined ? `${r.durationMs} ms` : "",
  ]
    .filter(Boolean)
    .join(", ");
  return html`<div class="result ${r.isError ? "bad" : ""}">
    <span class="label">result</span> ${status}${output(r.output)}
  </div>`;
}

function call(step: CallStep): SafeHtml {
  return html`<li class="step call" data-call="${step.id}">
    ${clock(step.time)}
    <div class="body">
      <div>
        <span class="label">tool call</span> <strong>${step.tool}</strong> <code class="input">${step.input}</code>
      </div>
      ${policyLine(step.decision)} ${approvalLine(step.approval)} ${changeLine(step.change)} ${resultBlock(step.result)}
    </div>
  </li>`;
}

function verificationText(s: Extract<TimelineStep, { kind: "verification" }>): string {
  const details = s.details ? `: ${s.details}` : "";
  const phase = s.phase ? ` → ${s.phase}` : "";
  const attempt = s.attempt !== undefined ? ` (attempt ${s.attempt})` : "";
  return `${s.cleared ? "drift gone" : "drift still present"}${details}${phase}${attempt}`;
}

function step(s: TimelineStep): SafeHtml {
  switch (s.kind) {
    case "reasoning":
      return html`<li class="step reasoning">
        ${clock(s.time)}
        <div class="body">
          <span class="label">model</span>
          <p class="model-text">${s.text}</p>
        </div>
      </li>`;
    case "call":
      return call(s);
    case "verification":
      return html`<li class="step verification ${s.cleared ? "good" : "bad"}">
        ${clock(s.time)}
        <div class="body">
          <span class="label">verification</span>
          ${verificationText(s)}
        </div>
      </li>`;
    case "phase":
      return html`<li class="step phase">
        ${clock(s.time)}
        <div class="body">
          <span class="label">phase</span> ${s.from} →
          <strong>${s.to}</strong>${s.reason ? html` <span class="quiet">${s.reason}</span>` : ""}
        </div>
      </li>`;
    case "usage":
      return html`<li class="step usage quiet">
        ${clock(s.time)}
        <div class="body">
          <span class="label">usage</span> ${s.inputTokens} in / ${s.outputTokens} out
          tokens${s.costUSD !== undefined ? `, ~$${s.costUSD.toFixed(4)}` : ""}
        </div>
      </li>`;
    case "note":
      return html`<li class="step note">
        ${clock(s.time)}
        <div class="body"><span class="label">${s.label}</span> ${s.text}</div>
      </li>`;
  }
}

/** The reasoning chain, oldest first, as an ordered list a screen reader reads in order too. */
export function timelineView(steps: readonly TimelineStep[]): SafeHtml {
  if (steps.length === 0) return html`<p class="quiet">The session has not written anything yet.</p>`;
  return html`<ol class="timeline">
    ${steps.map(step)}
  </ol>`;
}
