import { userInfo } from "node:os";
import { DEFAULT_NAMESPACE } from "../api/meta.js";
import { APPROVE, APPROVED_BY, DENIED_BY, DENY, DENY_REASON } from "../api/approvals.js";
import { readAuditFile, verifyAuditFile } from "../agent/audit.js";
import { renderAuditForPerson } from "../agent/render.js";
import { SessionFiles } from "../agent/session-store.js";
import type { AgentRemediation, PendingApproval } from "../api/remediation.js";
import { emptyRemediationStatus } from "../reconcile/remediations.js";
import { NotFoundError, StewardError } from "../errors.js";
import type { Store } from "../store/store.js";
import type { Output } from "./commands.js";

export interface DecisionRequest {
  name: string;
  approve: boolean;
  id?: string;
  reason?: string;
  as?: string;
  namespace?: string;
}

/**
 * `steward approve|deny NAME`: records the decision as annotations on the remediation
 * (the same ones `kubectl annotate` sets); the running controller picks them up and the
 * conversation continues where it stopped.
 */
export async function decideCommand(store: Store, request: DecisionRequest, output: Output): Promise<void> {
  const ref = { namespace: request.namespace ?? DEFAULT_NAMESPACE, name: request.name };
  const remediation = await store.get("AgentRemediation", ref);
  if (!remediation) throw new NotFoundError("remediation", request.name);
  const chosen = pendingToDecide(remediation, request);
  const who = request.as ?? userInfo().username;
  const ids = chosen.map((p) => p.id).join(",");
  await store.annotate(
    "AgentRemediation",
    ref,
    request.approve
      ? { [APPROVE]: ids, [APPROVED_BY]: who }
      : { [DENY]: ids, [DENIED_BY]: who, [DENY_REASON]: request.reason ?? "denied" },
  );
  const verb = request.approve ? "approved" : "denied";
  for (const p of chosen)
    output.out(`remediation.steward.dev/${request.name} ${verb}: ${p.id} (${p.command.join(" ")})`);
}

function pendingToDecide(remediation: AgentRemediation, request: DecisionRequest): PendingApproval[] {
  const status = remediation.status ?? emptyRemediationStatus();
  if (status.phase !== "AwaitingApproval" || status.pendingApproval.length === 0) {
    throw new StewardError(
      `remediation "${request.name}" is ${status.phase}, not AwaitingApproval: nothing to ${request.approve ? "approve" : "deny"}`,
    );
  }
  const chosen = request.id ? status.pendingApproval.filter((p) => p.id === request.id) : status.pendingApproval;
  if (chosen.length === 0) {
    throw new StewardError(
      `no pending call with id ${request.id ?? ""}; pending: ${status.pendingApproval.map((p) => p.id).join(", ")}`,
    );
  }
  return chosen;
}

/** `steward logs NAME`: the audit trail as a reasoning chain for a person. */
export async function logsCommand(
  stateDir: string,
  name: string,
  namespace: string | undefined,
  output: Output,
): Promise<void> {
  const path = new SessionFiles(stateDir).auditPath(namespace ?? DEFAULT_NAMESPACE, name);
  const entries = await readAuditFile(path).catch(noTrailYet(name));
  output.out(renderAuditForPerson(entries, { color: process.stdout.isTTY }));
}

/**
 * `steward audit verify NAME`: checks the hash chain and names the first bad line; with the
 * head the remediation's status recorded (`status.auditHead`), lines cut off the end too.
 */
export async function auditVerifyCommand(
  input: { store: Store; stateDir: string; name: string; namespace: string | undefined },
  output: Output,
): Promise<void> {
  const { store, stateDir, name } = input;
  const namespace = input.namespace ?? DEFAULT_NAMESPACE;
  const path = new SessionFiles(stateDir).auditPath(namespace, name);
  const expected = (await store.get("AgentRemediation", { namespace, name }))?.status?.auditHead;
  const result = await verifyAuditFile(path, { expected }).catch(noTrailYet(name));
  if (!result.ok) throw new StewardError(`${path}: line ${result.line}: ${result.reason}`);
  const anchor = result.anchored
    ? `, including entry ${result.anchored.seq}, the last the remediation's status records`
    : "; the remediation's status records no entry to check the end against";
  output.out(`${path}: ${result.entries} entries, hash chain intact${anchor}`);
}

/** A missing audit file said in a person's words; other errors pass through. */
function noTrailYet(name: string): (err: unknown) => never {
  return (err: unknown) => {
    if (err instanceof NotFoundError)
      throw new StewardError(`remediation "${name}" has no audit trail yet (no agent session has run for it)`);
    throw err;
  };
}
