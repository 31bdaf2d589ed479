import { Document, Scalar, visit } from "yaml";
import { formatDuration } from "../api/duration.js";
import type { DesiredState } from "../api/desired-state.js";
import type { RemediationPolicy } from "../api/policy.js";
import { sinkType, type NotificationPolicy } from "../api/notification-policy.js";
import type { AgentRemediation } from "../api/remediation.js";
import type { Kind, Resource, ResourceOf } from "../api/resources.js";
import { escapeInvisible, hasInvisible, jsonEscape, yamlEscape } from "../text/escape.js";
import { emptyRemediationStatus } from "../reconcile/remediations.js";

export type OutputFormat = "table" | "wide" | "yaml" | "json" | "name";

interface Columns<R> {
  headers: string[];
  wideHeaders: string[];
  row(resource: R, now: Date): string[];
  wideRow(resource: R, now: Date): string[];
}

function age(resource: Resource, now: Date): string {
  const created = Date.parse(resource.metadata.creationTimestamp ?? "");
  return Number.isNaN(created) ? "<unknown>" : formatDuration(now.getTime() - created);
}

const desiredStateColumns: Columns<DesiredState> = {
  headers: ["NAME", "READY", "DRIFT", "REMEDIATION", "AGE"],
  wideHeaders: ["TARGET", "SERVICES", "INVARIANTS", "LAST RECONCILE"],
  row: (ds, now) => [
    ds.metadata.name,
    ds.status?.conditions.find((c) => c.type === "Ready")?.status ?? "Unknown",
    String(ds.status?.drift.length ?? 0),
    ds.status?.activeRemediation ?? "<none>",
    age(ds, now),
  ],
  wideRow: (ds, now) => [
    describeTarget(ds),
    String(ds.spec.services.length),
    String(ds.spec.invariants.length),
    ds.status?.lastReconcileTime
      ? `${formatDuration(now.getTime() - Date.parse(ds.status.lastReconcileTime))} ago`
      : "<never>",
  ],
};

const remediationColumns: Columns<AgentRemediation> = {
  headers: ["NAME", "TARGET", "PHASE", "REASON", "ATTEMPTS", "TOKENS", "AGE"],
  wideHeaders: ["DRIFT", "MODE", "SESSION"],
  row: (r, now) => {
    const status = r.status ?? emptyRemediationStatus();
    return [
      r.metadata.name,
      r.spec.desiredStateRef.name,
      status.phase,
      status.reason ?? "",
      String(status.attempts.length),
      // Output tokens, as the CRD's Tokens column shows them: kubectl get and steward get agree.
      String(status.usage?.outputTokens ?? 0),
      age(r, now),
    ];
  },
  wideRow: (r) => [
    r.spec.drift.map((d) => `${d.subject}: ${d.observed}`).join("; "),
    r.spec.mode,
    r.status?.sessionId ?? "<none>",
  ],
};

const policyColumns: Columns<RemediationPolicy> = {
  headers: ["NAME", "RULES", "DRY-RUN", "AGE"],
  wideHeaders: ["MAX-TURNS", "MAX-MUTATIONS", "MAX-COST-USD"],
  row: (p, now) => [p.metadata.name, String(p.spec.rules.length), String(p.spec.dryRun), age(p, now)],
  wideRow: (p) => [
    String(p.spec.budgets.maxTurns),
    String(p.spec.budgets.maxMutations),
    String(p.spec.budgets.maxCostUSD),
  ],
};

const notificationPolicyColumns: Columns<NotificationPolicy> = {
  headers: ["NAME", "SINKS", "DESIREDSTATES", "AGE"],
  wideHeaders: ["TYPES"],
  row: (p, now) => [
    p.metadata.name,
    p.spec.sinks.map((s) => s.name).join(","),
    p.spec.desiredStates?.join(",") ?? "<all>",
    age(p, now),
  ],
  wideRow: (p) => [p.spec.sinks.map(sinkType).join(",")],
};

const COLUMNS: { [K in Kind]: Columns<ResourceOf<K>> } = {
  DesiredState: desiredStateColumns,
  AgentRemediation: remediationColumns,
  RemediationPolicy: policyColumns,
  NotificationPolicy: notificationPolicyColumns,
};

export function describeTarget(ds: DesiredState): string {
  const { docker, kubernetes } = ds.spec.target;
  if (docker)
    return docker.project
      ? `docker:${docker.project}`
      : `docker:${Object.entries(docker.selector ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(",")}`;
  return `kubernetes:${kubernetes?.namespace ?? ""}`;
}

export function tableHeaders(kind: Kind, wide: boolean): string[] {
  const columns = COLUMNS[kind];
  return wide ? [...columns.headers, ...columns.wideHeaders] : columns.headers;
}

export function tableRow<K extends Kind>(kind: K, resource: ResourceOf<K>, wide: boolean, now: Date): string[] {
  const columns = COLUMNS[kind] as Columns<ResourceOf<K>>;
  return wide ? [...columns.row(resource, now), ...columns.wideRow(resource, now)] : columns.row(resource, now);
}

/** kubectl's `-o json` shape for a list, also used for a single object with `-o yaml`/`json` by name. */
export function asList(items: readonly Resource[]): { apiVersion: "v1"; kind: "List"; items: readonly Resource[] } {
  return { apiVersion: "v1", kind: "List", items };
}

/**
 * `-o yaml` / `-o json`. Either reads back as the same objects, and neither holds a raw
 * control or invisible character other than newline and tab (see src/escape.ts): those
 * are written as the format's own escapes. (JSON.stringify escapes C0 inside strings; the
 * newlines of its indentation stay.)
 */
export function formatObjects(items: readonly Resource[], format: "yaml" | "json", single: boolean): string {
  const value = single && items.length === 1 ? items[0] : asList(items);
  return format === "json" ? escapeInvisible(JSON.stringify(value, null, 2), "\n", jsonEscape) : yamlText(value);
}

const KEEP = "\n\t";

/**
 * The `yaml` package escapes C0 in double-quoted strings but writes DEL, C1, bidi and
 * zero-width characters raw, in plain scalars too. Every string holding one is made
 * double-quoted, so each such character left in the text is inside double quotes, where
 * YAML's `\uXXXX` / `\UXXXXXXXX` escapes read back as the character.
 */
function yamlText(value: unknown): string {
  const doc = new Document(value);
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === "string" && hasInvisible(node.value, KEEP)) node.type = Scalar.QUOTE_DOUBLE;
    },
  });
  // Only the final newline goes (the printer adds it back): a last value in a `|+` block
  // keeps its trailing newlines, so trimming more would change it.
  return escapeInvisible(doc.toString({ lineWidth: 0 }).replace(/\n$/, ""), KEEP, yamlEscape);
}

export function resourceName(resource: Resource): string {
  return `${resource.kind.toLowerCase()}.steward.dev/${resource.metadata.name}`;
}
