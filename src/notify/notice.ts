import type { NotificationEvent, NotificationRecord } from "../api/notifications.js";
import type { AgentRemediation, ContainerEvidence, DriftWithEvidence } from "../api/remediation.js";
import type { AlertEvidence } from "../api/alerts.js";
import { APPROVE } from "../api/approvals.js";
import { redactSecrets } from "../text/redact.js";
import { stripControl } from "../text/strip.js";

/**
 * What every sink says about one transition, built once and rendered per sink. Everything
 * in it went through the one redactor (src/text/redact.ts) with control characters removed,
 * and is cut short: labels, log lines, alert text and commands come from the watched
 * systems and the model, and end up in chat rooms and pagers.
 */
export interface Notice {
  version: "1";
  event: NotificationEvent;
  /** Stable across retries and restarts: `<remediation uid>/<record id>`. */
  idempotencyKey: string;
  at: string;
  remediation: {
    name: string;
    namespace: string;
    uid: string;
    phase: string;
    reason?: string;
    message?: string;
    severity: string;
    summary?: string;
  };
  desiredState: { name: string; namespace: string };
  drift: { type: string; subject: string; expected: string; observed: string; since: string }[];
  /** A few lines per drift: what the evidence says (state, exit code, last log lines, alert summary). */
  evidence: string[];
  /** The commands awaiting approval (AwaitingApproval). */
  pending: { id: string; command: string }[];
  /** How to approve or deny them, exactly, when there are some. */
  commands?: { approve: string[]; deny: string[] };
}

/** How a person reaches this Steward's store, for the exact approve commands. */
export interface StoreAccess {
  store: "file" | "kubernetes";
  /** The file store's directory (`--state-dir`), when it is not the default. */
  stateDir?: string;
}

const TEXT_MAX = 1_000;
const LOG_LINES = 3;

/** Text from outside: control characters out, secrets redacted, at most `max` characters. */
export function clean(text: string, max = TEXT_MAX): string {
  const safe = redactSecrets(stripControl(text));
  return safe.length > max ? `${safe.slice(0, max - 1)}…` : safe;
}

export function buildNotice(remediation: AgentRemediation, record: NotificationRecord, access: StoreAccess): Notice {
  const { metadata, spec } = remediation;
  const pending = (record.pending ?? []).map((p) => ({ id: clean(p.id, 200), command: clean(p.command, 500) }));
  return {
    version: "1",
    event: record.event,
    idempotencyKey: `${metadata.uid ?? `${metadata.namespace}/${metadata.name}`}/${record.id}`,
    at: record.at,
    remediation: remediationPart(remediation, record),
    desiredState: { name: spec.desiredStateRef.name, namespace: spec.desiredStateRef.namespace ?? metadata.namespace },
    drift: spec.drift.map((d) => ({
      type: d.type,
      subject: clean(d.subject, 300),
      expected: clean(d.expected, 300),
      observed: clean(d.observed, 300),
      since: d.since,
    })),
    evidence: spec.drift.flatMap(evidenceLines),
    pending,
    ...(pending.length > 0 ? { commands: approvalCommands(remediation, pending, access) } : {}),
  };
}

function remediationPart(remediation: AgentRemediation, record: NotificationRecord): Notice["remediation"] {
  const { metadata, spec, status } = remediation;
  const summary = record.event !== "Opened" ? status?.summary : undefined;
  return {
    name: metadata.name,
    namespace: metadata.namespace,
    uid: metadata.uid ?? "",
    phase: record.event === "Opened" ? "Pending" : record.event,
    ...(record.reason ? { reason: clean(record.reason, 200) } : {}),
    ...(record.message ? { message: clean(record.message) } : {}),
    severity: spec.severity ?? "warning",
    ...(summary ? { summary: clean(summary) } : {}),
  };
}

function evidenceLines(drift: DriftWithEvidence): string[] {
  const { evidence } = drift;
  const workload = evidence.workload;
  const metric = evidence.metric;
  return [
    ...(evidence.containers ?? []).flatMap(containerLines),
    ...(workload
      ? [
          clean(
            `${workload.kind} ${workload.name}: ${workload.readyReplicas}/${workload.replicas} ready, ${workload.updatedReplicas} updated`,
          ),
        ]
      : []),
    ...(metric
      ? [
          clean(
            `query ${metric.query} (condition ${metric.condition}): ${metric.error ?? `${metric.samples.length} series`}`,
          ),
        ]
      : []),
    ...(evidence.alert ? alertLines(evidence.alert) : []),
  ];
}

function containerLines(c: ContainerEvidence): string[] {
  const exit = c.exitCode === undefined ? "" : `, exit code ${c.exitCode}`;
  const oom = c.oomKilled ? ", OOM-killed" : "";
  return [
    clean(`container ${c.pod ? `${c.pod}/` : ""}${c.name}: ${c.state}${exit}, restarts ${c.restartCount ?? 0}${oom}`),
    ...c.logs.slice(-LOG_LINES).map((line) => clean(`  | ${line}`, 300)),
  ];
}

function alertLines(alert: AlertEvidence): string[] {
  return [
    clean(`alert ${alert.alertname} firing since ${alert.startsAt}`),
    ...["summary", "description", "runbook_url"].flatMap((key) => {
      const value = alert.annotations[key];
      return value ? [clean(`  ${key}: ${value}`, 500)] : [];
    }),
  ];
}

/** `steward approve …` for the store Steward runs with, and `kubectl annotate …` with the kubernetes store. */
function approvalCommands(
  remediation: AgentRemediation,
  pending: readonly { id: string }[],
  access: StoreAccess,
): { approve: string[]; deny: string[] } {
  const { name, namespace } = remediation.metadata;
  const global =
    access.store === "kubernetes"
      ? " --store kubernetes"
      : access.stateDir
        ? ` --state-dir ${shellWord(access.stateDir)}`
        : "";
  const approve: string[] = [];
  const deny: string[] = [];
  for (const { id } of pending) {
    approve.push(`steward${global} -n ${namespace} approve ${name} --id ${shellWord(id)}`);
    if (access.store === "kubernetes")
      approve.push(`kubectl annotate remediation ${name} -n ${namespace} --overwrite ${APPROVE}=${shellWord(id)}`);
    deny.push(`steward${global} -n ${namespace} deny ${name} --id ${shellWord(id)} --reason "…"`);
  }
  return { approve, deny };
}

/** A word safe to paste into a shell: as is when plain, else single-quoted. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}
