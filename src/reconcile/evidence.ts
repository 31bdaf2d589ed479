import type { ContainerEvidence, DriftWithEvidence } from "../api/remediation.js";
import type { InvariantSpec } from "../api/desired-state.js";
import { errorMessage } from "../errors.js";
import type { ContainerSnapshot, DockerActions, QueryResult } from "../observe/types.js";
import { containerOf } from "./drift.js";
import type { OpenStep } from "./remediations.js";

/** How many log lines a remediation keeps as evidence of why a container stopped. */
export const EVIDENCE_LOG_LINES = 50;

export interface EvidenceSources {
  containers: readonly ContainerSnapshot[];
  actions: DockerActions;
  invariants: readonly InvariantSpec[];
  queryResults: ReadonlyMap<string, QueryResult>;
  signal: AbortSignal;
}

/**
 * The evidence a remediation carries from the moment it opened, gathered deterministically
 * (no model involved): the container's state, exit code, restart count and last log lines,
 * or the invariant's query and the values Prometheus returned.
 */
export async function gatherEvidence(step: OpenStep, sources: EvidenceSources): Promise<DriftWithEvidence> {
  const { drift } = step;
  const base = { ...drift, evidence: { fixesTried: step.fixesTried } };
  const name = containerOf(drift);
  if (name !== undefined) {
    const snapshot = sources.containers.find((c) => c.name === name);
    return { ...base, evidence: { ...base.evidence, containers: snapshot ? [await containerEvidence(snapshot, sources)] : [] } };
  }
  if (drift.type === "InvariantViolated") {
    const invariantName = drift.subject.replace(/^invariant\//, "");
    const spec = sources.invariants.find((i) => i.name === invariantName);
    const result = sources.queryResults.get(invariantName);
    if (spec && result) {
      const metric = {
        query: spec.query,
        condition: spec.condition,
        samples: result.ok ? result.samples.map((s) => ({ labels: { ...s.labels }, value: String(s.value) })) : [],
        ...(result.ok ? {} : { error: result.error }),
      };
      return { ...base, evidence: { ...base.evidence, metric } };
    }
  }
  return base;
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
    error: c.error,
    logs: [],
  };
  try {
    evidence.logs = await sources.actions.logs(c.id, EVIDENCE_LOG_LINES, sources.signal);
  } catch (err) {
    evidence.logs = [`(could not read logs: ${errorMessage(err)})`];
  }
  return evidence;
}
