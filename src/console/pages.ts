import { readAuditFile, verifyAuditFile } from "../agent/audit.js";
import { SessionFiles } from "../agent/session-store.js";
import type { AgentRemediation } from "../api/remediation.js";
import { errorMessage } from "../errors.js";
import type { Store } from "../store/store.js";
import type { SafeHtml } from "./html.js";
import { timelineOf } from "./timeline.js";
import { desiredStateView } from "./views/desired-state.js";
import { overviewView } from "./views/overview.js";
import { remediationView, type AuditView } from "./views/remediation.js";

/** What the pages read: the store (cached, fed by its watch) and the agent's audit trails. */
export interface PageSources {
  store: Store;
  stateDir: string;
  /** The one namespace shown; undefined for all. */
  namespace: string | undefined;
  now(): Date;
}

export interface Page {
  title: string;
  body: SafeHtml;
}

export function auditPathOf(sources: PageSources, namespace: string, name: string): string {
  return new SessionFiles(sources.stateDir).auditPath(namespace, name);
}

function inScope(sources: PageSources, namespace: string): boolean {
  return sources.namespace === undefined || sources.namespace === namespace;
}

export async function overviewPage(sources: PageSources): Promise<Page> {
  const [desiredStates, remediations] = await Promise.all([
    sources.store.list("DesiredState", sources.namespace),
    sources.store.list("AgentRemediation", sources.namespace),
  ]);
  return { title: "Overview", body: overviewView({ desiredStates, remediations, now: sources.now() }) };
}

/** undefined when there is no such DesiredState (in scope). */
export async function desiredStatePage(
  sources: PageSources,
  namespace: string,
  name: string,
): Promise<Page | undefined> {
  if (!inScope(sources, namespace)) return undefined;
  const desiredState = await sources.store.get("DesiredState", { namespace, name });
  if (!desiredState) return undefined;
  const remediations = (await sources.store.list("AgentRemediation", namespace))
    .filter((r) => r.spec.desiredStateRef.name === name)
    .sort((a, b) => (b.status?.openedAt ?? "").localeCompare(a.status?.openedAt ?? ""));
  return { title: `DesiredState ${name}`, body: desiredStateView({ desiredState, remediations, now: sources.now() }) };
}

async function auditOf(path: string): Promise<AuditView> {
  try {
    const [entries, verified] = await Promise.all([readAuditFile(path), verifyAuditFile(path)]);
    return { state: "read", path, steps: timelineOf(entries), verified };
  } catch (err) {
    if ((err as { cause?: NodeJS.ErrnoException }).cause?.code === "ENOENT") return { state: "missing", path };
    return { state: "unreadable", path, error: errorMessage(err) };
  }
}

export async function remediationOf(
  sources: PageSources,
  namespace: string,
  name: string,
): Promise<AgentRemediation | undefined> {
  return inScope(sources, namespace) ? sources.store.get("AgentRemediation", { namespace, name }) : undefined;
}

export async function remediationPage(
  sources: PageSources,
  remediation: AgentRemediation,
  csrf: string,
): Promise<Page> {
  const { namespace = "default", name } = remediation.metadata;
  const audit = await auditOf(auditPathOf(sources, namespace, name));
  return { title: `Remediation ${name}`, body: remediationView({ remediation, audit, csrf, now: sources.now() }) };
}
