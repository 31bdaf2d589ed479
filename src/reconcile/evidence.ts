import { redactSecrets } from "../text/redact.js";
import type { ContainerEvidence, DriftWithEvidence, MetricEvidence } from "../api/remediation.js";
import type { InvariantSpec } from "../api/desired-state.js";
import { errorMessage } from "../errors.js";
import type { ContainerSnapshot, PodSnapshot, QueryResult, ReceivedAlert } from "../observe/types.js";
import type { AlertEvidence } from "../api/alerts.js";
import { truncate } from "../text/truncate.js";
import type { DockerActions, KubernetesActions } from "../act/types.js";
import { alertFingerprintOf, containerOf } from "./drift.js";
import type { OpenStep } from "./remediations.js";
import { podsOf, workloadOf, type WorkloadObservation } from "./workload-drift.js";

/** How many log lines a remediation keeps as evidence of why a container stopped. */
export const EVIDENCE_LOG_LINES = 50;

export interface EvidenceSources {
  containers: readonly ContainerSnapshot[];
  actions?: DockerActions;
  /** A Kubernetes target's namespace, workloads and pods, and how to read pod logs. */
  kubernetes?: { namespace: string; observed: WorkloadObservation; actions: KubernetesActions };
  invariants: readonly InvariantSpec[];
  queryResults: ReadonlyMap<string, QueryResult>;
  /** The firing alerts the DesiredState owns (an AlertFiring drift's evidence). */
  alerts?: readonly ReceivedAlert[];
  signal: AbortSignal;
}

/** An alert's labels and annotations kept as evidence: this many, each value at most this many bytes. */
const ALERT_FIELDS_MAX = 64;
const ALERT_VALUE_MAX_BYTES = 2_048;

/**
 * The evidence a remediation carries from the moment it opened, gathered deterministically
 * (no model involved): the container's state, exit code, restart count and last log lines,
 * or the invariant's query and the values Prometheus returned. Secrets are redacted before
 * anything is stored: evidence is shown by `get -o yaml` and `describe` and sent to the
 * model, and a log line or a label may hold a key, a token, a password or one of the
 * container's env values.
 */
export async function gatherEvidence(step: OpenStep, sources: EvidenceSources): Promise<DriftWithEvidence> {
  const { drift } = step;
  const base = { ...drift, evidence: { fixesTried: step.fixesTried } };
  const name = containerOf(drift);
  if (name !== undefined) {
    const snapshot = sources.containers.find((c) => c.name === name);
    return {
      ...base,
      evidence: { ...base.evidence, containers: snapshot ? [await containerEvidence(snapshot, sources)] : [] },
    };
  }
  if (sources.kubernetes) {
    const kubernetes = await kubernetesEvidence(drift.subject, { ...sources.kubernetes, signal: sources.signal });
    if (kubernetes) return { ...base, evidence: { ...base.evidence, ...kubernetes } };
  }
  if (drift.type === "AlertFiring") {
    const alert = sources.alerts?.find((a) => a.fingerprint === alertFingerprintOf(drift));
    return alert ? { ...base, evidence: { ...base.evidence, alert: alertEvidence(alert) } } : base;
  }
  const metric = drift.type === "InvariantViolated" ? metricEvidence(drift.subject, sources) : undefined;
  return metric ? { ...base, evidence: { ...base.evidence, metric } } : base;
}

/** What Prometheus answered for the invariant's query, labels redacted. */
function metricEvidence(subject: string, sources: EvidenceSources): MetricEvidence | undefined {
  const invariantName = subject.replace(/^invariant\//, "");
  const spec = sources.invariants.find((i) => i.name === invariantName);
  const result = sources.queryResults.get(invariantName);
  if (!spec || !result) return undefined;
  return {
    query: spec.query,
    condition: spec.condition,
    samples: result.ok ? result.samples.map((s) => ({ labels: redactValues(s.labels), value: String(s.value) })) : [],
    ...(result.ok ? {} : { error: redactSecrets(result.error) }),
  };
}

async function containerEvidence(c: ContainerSnapshot, sources: EvidenceSources): Promise<ContainerEvidence> {
  const evidence: ContainerEvidence = {
    name: c.name,
    id: c.id,
    state: c.state,
    health: c.health,
    exitCode: c.exitCode,
    restartCount: c.restartCount,
    oomKilled: c.oomKilled,
    startedAt: c.startedAt,
    finishedAt: c.finishedAt,
    logs: [],
  };
  const secrets = await envSecrets(c.id, sources);
  if (c.error !== undefined) evidence.error = redactSecrets(c.error, secrets);
  const logs = await readLogs(() =>
    sources.actions ? sources.actions.logs(c.id, EVIDENCE_LOG_LINES, sources.signal) : Promise.resolve([]),
  );
  evidence.logs = redactLines(logs, secrets);
  return evidence;
}

/**
 * Redacts the lines as one text: a PEM block or a multi-line env value printed to the log
 * spans lines, and only the whole text shows it as one. A redacted block becomes one line.
 */
function redactLines(lines: readonly string[], secrets: readonly string[] = []): string[] {
  if (lines.length === 0) return [];
  const withTheirLines = secrets.flatMap((s) => (s.includes("\n") ? [s, ...s.split("\n")] : [s]));
  return redactSecrets(lines.join("\n"), withTheirLines).split("\n");
}

/** The container's secret values, to redact; none when Docker cannot say (pattern redaction still applies). */
async function envSecrets(id: string, sources: EvidenceSources): Promise<string[]> {
  try {
    return (await sources.actions?.secretValues?.(id, sources.signal)) ?? [];
  } catch {
    return [];
  }
}

/**
 * Labels, annotations and the generator URL come from whoever can push alerts: redacted,
 * cut to ALERT_VALUE_MAX_BYTES each, at most ALERT_FIELDS_MAX of each.
 */
function alertEvidence(alert: ReceivedAlert): AlertEvidence {
  const bounded = (record: Readonly<Record<string, string>>): Record<string, string> =>
    Object.fromEntries(
      Object.entries(record)
        .slice(0, ALERT_FIELDS_MAX)
        .map(([k, v]) => [k, truncate(redactSecrets(v), ALERT_VALUE_MAX_BYTES)]),
    );
  return {
    alertname: alert.labels.alertname ?? "",
    fingerprint: alert.fingerprint,
    status: alert.status,
    labels: bounded(alert.labels),
    annotations: bounded(alert.annotations),
    startsAt: alert.startsAt,
    ...(alert.generatorURL ? { generatorURL: truncate(redactSecrets(alert.generatorURL), ALERT_VALUE_MAX_BYTES) } : {}),
    ...(alert.receiver ? { receiver: alert.receiver } : {}),
  };
}

function redactValues(labels: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, redactSecrets(v)]));
}

async function readLogs(read: () => Promise<string[]>): Promise<string[]> {
  try {
    return await read();
  } catch (err) {
    return [`(could not read logs: ${errorMessage(err)})`];
  }
}

type KubernetesSources = NonNullable<EvidenceSources["kubernetes"]> & { signal: AbortSignal };

/**
 * A pod drift carries the pod's containers with the logs of the last run that ended (that
 * is where a crash loop says why); a workload drift carries the workload's replica counts
 * and its pods' states, without logs.
 */
async function kubernetesEvidence(
  subject: string,
  sources: KubernetesSources,
): Promise<Pick<DriftWithEvidence["evidence"], "containers" | "workload"> | undefined> {
  const { observed } = sources;
  if (subject.startsWith("pod/")) {
    const pod = observed.pods.find((p) => p.name === subject.slice("pod/".length));
    return {
      containers: pod ? await Promise.all(pod.containers.map((c) => podContainerEvidence(pod, c, sources))) : [],
    };
  }
  const ref = workloadOf(subject, sources.namespace);
  if (!ref) return undefined;
  const workload = observed.workloads.find((w) => w.kind === ref.kind && w.name === ref.name);
  if (!workload) return { containers: [] };
  const pods = podsOf(workload, observed);
  return {
    workload: {
      kind: workload.kind,
      name: workload.name,
      replicas: workload.replicas,
      readyReplicas: workload.readyReplicas,
      updatedReplicas: workload.updatedReplicas,
      pods: pods.map((p) => p.name),
    },
    containers: pods.flatMap((pod) => pod.containers.map((c) => podContainerFacts(pod, c))),
  };
}

function podContainerFacts(pod: PodSnapshot, c: PodSnapshot["containers"][number]): ContainerEvidence {
  return {
    name: c.name,
    pod: pod.name,
    state: c.reason ? `${c.state} (${c.reason})` : c.state,
    exitCode: c.lastTermination?.exitCode,
    restartCount: c.restartCount,
    oomKilled: c.lastTermination?.reason === "OOMKilled",
    startedAt: pod.startTime,
    finishedAt: c.lastTermination?.finishedAt,
    logs: [],
  };
}

async function podContainerEvidence(
  pod: PodSnapshot,
  c: PodSnapshot["containers"][number],
  sources: KubernetesSources,
): Promise<ContainerEvidence> {
  const logs = await readLogs(() =>
    sources.actions.logs(
      pod.namespace,
      pod.name,
      { container: c.name, tail: EVIDENCE_LOG_LINES, previous: c.lastTermination !== undefined },
      sources.signal,
    ),
  );
  return { ...podContainerFacts(pod, c), logs: redactLines(logs, pod.secretValues) };
}
