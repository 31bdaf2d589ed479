import { userInfo } from "node:os";
import { DEFAULT_NAMESPACE } from "../api/meta.js";
import { APPROVE, APPROVED_BY, DENIED_BY, DENY, DENY_REASON } from "../agent/approvals.js";
import { readAuditFile, verifyAuditFile } from "../agent/audit.js";
import { renderAuditForPerson } from "../agent/render.js";
import { SessionFiles } from "../agent/session-store.js";
import { NotFoundError, StewardError } from "../errors.js";
import type { FileStore } from "../store/file/file-store.js";
import type { Output } from "./commands.js";

export interface DecisionOptions {
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
export async function decideCommand(store: FileStore, name: string, approve: boolean, options: DecisionOptions, output: Output): Promise<void> {
  const ref = { namespace: options.namespace ?? DEFAULT_NAMESPACE, name };
  const remediation = await store.get("AgentRemediation", ref);
  if (!remediation) throw new NotFoundError("remediation", name);
  const pending = remediation.status?.pendingApproval ?? [];
  if (remediation.status?.phase !== "AwaitingApproval" || pending.length === 0) {
    throw new StewardError(`remediation "${name}" is ${remediation.status?.phase ?? "Pending"}, not AwaitingApproval: nothing to ${approve ? "approve" : "deny"}`);
  }
  const chosen = options.id ? pending.filter((p) => p.id === options.id) : pending;
  if (chosen.length === 0) {
    throw new StewardError(`no pending call with id ${options.id ?? ""}; pending: ${pending.map((p) => p.id).join(", ")}`);
  }
  const who = options.as ?? userInfo().username;
  const ids = chosen.map((p) => p.id).join(",");
  await store.annotate(
    "AgentRemediation",
    ref,
    approve ? { [APPROVE]: ids, [APPROVED_BY]: who } : { [DENY]: ids, [DENIED_BY]: who, [DENY_REASON]: options.reason ?? "denied" },
  );
  for (const p of chosen) output.out(`remediation.steward.dev/${name} ${approve ? "approved" : "denied"}: ${p.id} (${p.command.join(" ")})`);
}

/** `steward logs NAME`: the audit trail as a reasoning chain for a person. */
export async function logsCommand(stateDir: string, name: string, namespace: string | undefined, output: Output): Promise<void> {
  const path = new SessionFiles(stateDir).auditPath(namespace ?? DEFAULT_NAMESPACE, name);
  const entries = await readAuditFile(path).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new StewardError(`remediation "${name}" has no audit trail yet (no agent session has run for it)`);
    }
    throw err;
  });
  output.out(renderAuditForPerson(entries, { color: process.stdout.isTTY }));
}

/** `steward audit verify NAME`: checks the hash chain and names the first bad line. */
export async function auditVerifyCommand(stateDir: string, name: string, namespace: string | undefined, output: Output): Promise<void> {
  const path = new SessionFiles(stateDir).auditPath(namespace ?? DEFAULT_NAMESPACE, name);
  const result = await verifyAuditFile(path);
  if (!result.ok) throw new StewardError(`${path}: line ${result.line}: ${result.reason}`);
  output.out(`${path}: ${result.entries} entries, hash chain intact`);
}
