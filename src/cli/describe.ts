import { formatDuration } from "../api/duration.js";
import { escapeInvisible } from "../text/escape.js";
import type { DesiredState } from "../api/desired-state.js";
import type { Condition } from "../api/meta.js";
import type { RemediationPolicy } from "../api/policy.js";
import { sinkEvents, sinkType, type NotificationPolicy } from "../api/notification-policy.js";
import type { AlertEvidence } from "../api/alerts.js";
import { deliveryLedger } from "../api/notifications.js";
import type {
  AgentRemediation,
  ContainerEvidence,
  DriftWithEvidence,
  MetricEvidence,
  Usage,
} from "../api/remediation.js";
import { emptyRemediationStatus } from "../reconcile/remediations.js";
import type { Resource } from "../api/resources.js";
import { describeTarget } from "./printers.js";
import { formatTable } from "./table.js";

/**
 * `kubectl describe`-style text for people; `-o yaml` is the machine-readable form. Log
 * lines, messages and labels come from the watched systems: control and invisible
 * characters in them are shown as `\uXXXX` escapes (newlines and tabs stay).
 */
export function describeResource(resource: Resource, now: Date): string {
  return escapeInvisible(describeKind(resource, now), "\n\t");
}

function describeKind(resource: Resource, now: Date): string {
  switch (resource.kind) {
    case "DesiredState":
      return describeDesiredState(resource, now);
    case "AgentRemediation":
      return describeRemediation(resource, now);
    case "RemediationPolicy":
      return describePolicy(resource);
    case "NotificationPolicy":
      return describeNotificationPolicy(resource);
  }
}

function field(label: string, value: string | number | undefined): string {
  return `${`${label}:`.padEnd(20)}${value === undefined || value === "" ? "<none>" : value}`;
}

function section(title: string, body: string): string {
  return `${title}:\n${body
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n")}`;
}

function ago(time: string | undefined, now: Date): string {
  if (!time) return "<never>";
  return `${time} (${formatDuration(now.getTime() - Date.parse(time))} ago)`;
}

function conditionsTable(conditions: readonly Condition[]): string {
  if (conditions.length === 0) return "<none>";
  return formatTable(
    ["TYPE", "STATUS", "REASON", "MESSAGE"],
    conditions.map((c) => [c.type, c.status, c.reason, c.message]),
  );
}

function table(headers: string[], rows: string[][]): string {
  return rows.length === 0 ? "<none>" : formatTable(headers, rows);
}

function describeDesiredState(ds: DesiredState, now: Date): string {
  const status = ds.status ?? { conditions: [], drift: [], invariants: [], fixes: [] };
  return [
    field("Name", ds.metadata.name),
    field("Namespace", ds.metadata.namespace),
    field("Generation", `${ds.metadata.generation ?? 1} (observed ${status.observedGeneration ?? "never"})`),
    field("Target", describeTarget(ds)),
    field("Agent mode", ds.spec.remediation.agent.mode),
    field("Simple fixes", ds.spec.remediation.simpleFixes.join(", ") || "disabled"),
    field("Last reconcile", ago(status.lastReconcileTime, now)),
    field("Active remediation", status.activeRemediation),
    section("Services", servicesTable(ds)),
    section("Invariants", invariantsTable(ds)),
    section("Conditions", conditionsTable(status.conditions)),
    section(
      "Drift",
      table(
        ["SUBJECT", "TYPE", "EXPECTED", "OBSERVED", "SINCE"],
        status.drift.map((d) => [d.subject, d.type, d.expected, d.observed, d.since]),
      ),
    ),
    section(
      "Simple fixes",
      table(
        ["TIME", "SUBJECT", "ACTION", "RESULT", "MESSAGE"],
        status.fixes.slice(-10).map((f) => [f.time, f.subject, f.action, f.result, f.message ?? ""]),
      ),
    ),
  ].join("\n");
}

function servicesTable(ds: DesiredState): string {
  return table(
    ["NAME", "REPLICAS", "RUNNING", "HEALTHY", "RESTART BUDGET"],
    ds.spec.services.map((s) => [
      s.name,
      String(s.replicas),
      String(s.running),
      String(s.healthy),
      s.restartBudget ? `${s.restartBudget.max} per ${s.restartBudget.window}` : "3 per 10m (default)",
    ]),
  );
}

function invariantsTable(ds: DesiredState): string {
  return table(
    ["NAME", "STATE", "VALUE", "CONDITION", "FOR", "SINCE", "REASON"],
    ds.spec.invariants.map((spec) => {
      const s = ds.status?.invariants.find((i) => i.name === spec.name);
      return [
        spec.name,
        s?.state ?? "Unknown",
        s?.value ?? "",
        spec.condition,
        spec.for,
        s?.since ?? "",
        s?.reason ?? "",
      ];
    }),
  );
}

function describeEvidence(drift: DriftWithEvidence): string {
  const lines = [
    `${drift.subject} (${drift.type}): expected ${drift.expected}, observed ${drift.observed}, since ${drift.since}`,
  ];
  if (drift.evidence.fixesTried) lines.push(`simple fixes tried: ${drift.evidence.fixesTried}`);
  const workload = drift.evidence.workload;
  if (workload) {
    lines.push(
      `${workload.kind} ${workload.name}: replicas=${workload.replicas} ready=${workload.readyReplicas} ` +
        `updated=${workload.updatedReplicas} pods=${workload.pods.join(",") || "<none>"}`,
    );
  }
  for (const c of drift.evidence.containers ?? []) lines.push(...containerEvidenceLines(c));
  if (drift.evidence.metric) lines.push(...metricEvidenceLines(drift.evidence.metric));
  if (drift.evidence.alert) lines.push(...alertEvidenceLines(drift.evidence.alert));
  return lines.join("\n");
}

function containerEvidenceLines(c: ContainerEvidence): string[] {
  const lines = [
    `container ${c.pod ? `${c.pod}/` : ""}${c.name}: state=${c.state} health=${c.health ?? "none"} ` +
      `exitCode=${c.exitCode ?? ""} restartCount=${c.restartCount ?? ""} oomKilled=${String(c.oomKilled ?? false)}`,
  ];
  if (c.error) lines.push(`docker error: ${c.error}`);
  lines.push(c.logs.length === 0 ? "last log lines: <none>" : `last ${c.logs.length} log lines:`);
  return [...lines, ...c.logs.map((l) => `  | ${l}`)];
}

function metricEvidenceLines(metric: MetricEvidence): string[] {
  const lines = [`query: ${metric.query}   condition: ${metric.condition}`];
  if (metric.error) lines.push(`query error: ${metric.error}`);
  lines.push(...metric.samples.map((s) => `  ${JSON.stringify(s.labels)} = ${s.value}`));
  if (metric.samples.length === 0 && !metric.error) lines.push("  (no series)");
  return lines;
}

function alertEvidenceLines(alert: AlertEvidence): string[] {
  const labels = Object.entries(alert.labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return [
    `alert ${alert.alertname} (${alert.status}, fingerprint ${alert.fingerprint}) since ${alert.startsAt}`,
    `  labels: {${labels.join(", ")}}`,
    ...Object.entries(alert.annotations).map(([k, v]) => `  ${k}: ${v}`),
    ...(alert.generatorURL ? [`  source: ${alert.generatorURL}`] : []),
  ];
}

function notificationsTable(r: AgentRemediation): string {
  const ledger = deliveryLedger(r);
  return table(
    ["EVENT", "AT", "SINK", "STATE", "ATTEMPTS", "LAST ERROR"],
    (r.status?.notifications ?? []).flatMap((n) => {
      const sinks = ledger[n.id];
      if (sinks === undefined) return [[n.event, n.at, "<choosing sinks>", "Pending", "0", ""]];
      const entries = Object.entries(sinks);
      if (entries.length === 0) return [[n.event, n.at, "<no sink wants it>", "", "", ""]];
      return entries.map(([sink, d]) => [n.event, n.at, sink, d.state, String(d.attempts), d.lastError ?? ""]);
    }),
  );
}

function describeRemediation(r: AgentRemediation, now: Date): string {
  const status = r.status ?? emptyRemediationStatus();
  const lines = [
    field("Name", r.metadata.name),
    field("Namespace", r.metadata.namespace),
    field("DesiredState", r.spec.desiredStateRef.name),
    field("Phase", status.phase),
    field("Reason", status.reason),
    field("Message", status.message),
    field("Opened because", r.spec.reason),
    field("Mode", r.spec.mode),
    field("Policy", r.spec.policyRef),
    field("Opened", ago(status.openedAt ?? r.metadata.creationTimestamp, now)),
    field("Closed", status.closedAt),
    field("Session", status.sessionId),
    field("Verified", status.verifiedAt),
    section("Drift and evidence", r.spec.drift.map(describeEvidence).join("\n")),
    section(
      "Actions",
      table(
        ["TIME", "COMMAND", "DECISION", "APPROVER", "EXIT"],
        status.actions.map((a) => [
          a.time,
          a.command.join(" "),
          a.decision,
          a.approver ?? "",
          a.state === "Started" || a.state === "Unknown" ? "unknown" : String(a.exitCode ?? ""),
        ]),
      ),
    ),
    section(
      "Pending approval",
      status.pendingApproval.map((p) => `${p.id}: ${p.command.join(" ")} (${p.reason})`).join("\n") || "<none>",
    ),
    field("Summary", status.summary),
    field("Usage", status.usage ? describeUsage(status.usage) : undefined),
    section("Notifications", notificationsTable(r)),
  ];
  if (status.reason === "NoModelConfigured") lines.push("", ...NO_MODEL_HELP);
  return lines.join("\n");
}

function describeUsage(usage: Usage): string {
  return `${usage.inputTokens} in / ${usage.outputTokens} out tokens, ~$${usage.estimatedCostUSD.toFixed(4)}`;
}

const NO_MODEL_HELP = [
  "No model is configured, so no agent is investigating this. To let Claude investigate:",
  "  export ANTHROPIC_API_KEY=<your key>     # and optionally STEWARD_MODEL",
  "  restart `steward run`",
  "Or fix it yourself: the drift clears, and Steward closes this as Resolved (DriftCleared).",
];

function describePolicy(p: RemediationPolicy): string {
  return [
    field("Name", p.metadata.name),
    field("Dry run", String(p.spec.dryRun)),
    field("Model", p.spec.model),
    section(
      "Rules (first match wins; unmatched = deny)",
      p.spec.rules.length === 0
        ? "<none>"
        : formatTable(
            ["DECISION", "COMMAND"],
            p.spec.rules.map((r) => [r.decision, r.command]),
          ),
    ),
    section(
      "Budgets",
      Object.entries(p.spec.budgets)
        .map(([k, v]) => `${k}: ${String(v)}`)
        .join("\n"),
    ),
  ].join("\n");
}

function describeNotificationPolicy(p: NotificationPolicy): string {
  return [
    field("Name", p.metadata.name),
    field("Namespace", p.metadata.namespace),
    field("DesiredStates", p.spec.desiredStates?.join(", ") ?? "<all in the namespace>"),
    section(
      "Sinks",
      formatTable(
        ["NAME", "TYPE", "EVENTS", "SEVERITIES", "MAX ATTEMPTS"],
        p.spec.sinks.map((s) => [
          s.name,
          sinkType(s),
          sinkEvents(s).join(","),
          s.severities?.join(",") ?? "<all>",
          String(s.maxAttempts),
        ]),
      ),
    ),
  ].join("\n");
}
