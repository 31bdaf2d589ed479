import { parseDuration } from "../api/duration.js";
import type { DesiredState } from "../api/desired-state.js";
import type { RemediationPolicySpec } from "../api/policy.js";
import type { AgentRemediation } from "../api/remediation.js";
import { APPROVE, APPROVED_BY, DENIED_BY, DENY, DENY_REASON, hasDecisionFor } from "../agent/approvals.js";
import { DEFAULT_POLICY } from "../agent/policy.js";
import type { AgentRunner } from "../agent/runner.js";
import type { Store } from "../store/store.js";
import { DONE, requeueAfter, type ReconcileContext, type Reconciler, type ReconcileRequest, type ReconcileResult } from "./reconciler.js";
import { emptyRemediationStatus, isOpen } from "./remediations.js";

/** Policies are not watched by this controller; a missing one is looked for again after this. */
const POLICY_RETRY_MS = 30_000;

export interface RemediationReconcilerDeps {
  store: Store;
  /** Undefined when no model is configured: remediations then wait for a person. */
  runner: AgentRunner | undefined;
}

/**
 * Drives an AgentRemediation's agent session. The controller running this has as many
 * workers as sessions may run at once, so the rest wait in the queue, still Pending.
 * Approvals arrive as annotations; a remediation awaiting one is reconciled again when
 * its annotations change.
 */
export class RemediationReconciler implements Reconciler {
  constructor(private readonly deps: RemediationReconcilerDeps) {}

  async reconcile(request: ReconcileRequest, context: ReconcileContext): Promise<ReconcileResult> {
    const { store, runner } = this.deps;
    const ref = { namespace: request.namespace, name: request.name };
    const remediation = await store.get("AgentRemediation", ref);
    if (!remediation || !runner || !needsSession(remediation)) return DONE;
    const desiredState = await store.get("DesiredState", { namespace: ref.namespace, name: remediation.spec.desiredStateRef.name });
    if (!desiredState) return DONE;
    const policy = await this.policy(remediation.spec.policyRef, ref.namespace);
    const blocked = await this.blockedBy(remediation, desiredState, policy);
    if (blocked || !policy) {
      const why = blocked ?? { reason: "PolicyNotFound", message: "", retryInMs: POLICY_RETRY_MS };
      await store.updateStatus("AgentRemediation", ref, { ...(remediation.status ?? emptyRemediationStatus()), reason: why.reason, message: why.message });
      return requeueAfter(why.retryInMs);
    }
    await this.runSession(runner, remediation, desiredState, { policy, signal: context.signal, logger: context.logger });
    return DONE;
  }

  /** Runs the session; the approvals it acted on are spent, so their annotations go. */
  private async runSession(runner: AgentRunner, remediation: AgentRemediation, desiredState: DesiredState, context: Parameters<AgentRunner["run"]>[2]): Promise<void> {
    const phase = remediation.status?.phase ?? "Pending";
    // Remediating here means Steward stopped in the middle of a change, which may have been
    // approved: that approval is spent, and a lingering "all" must not approve the next call.
    if (phase === "Remediating") await this.consumeDecisions(remediation);
    await runner.run(remediation, desiredState, context);
    if (phase === "AwaitingApproval") await this.consumeDecisions(remediation);
  }

  /** Why the session cannot start or continue now: a cooldown, or a missing policy. */
  private async blockedBy(
    remediation: AgentRemediation,
    desiredState: DesiredState,
    policy: RemediationPolicySpec | undefined,
  ): Promise<{ reason: string; message: string; retryInMs: number } | undefined> {
    if ((remediation.status?.phase ?? "Pending") === "Pending") {
      const wait = await this.cooldownLeft(remediation, parseDuration(desiredState.spec.remediation.cooldown) ?? 0);
      if (wait > 0) {
        const message = `another session for ${desiredState.metadata.name} ended recently; starting in ${Math.ceil(wait / 1000)}s (spec.remediation.cooldown)`;
        return { reason: "Cooldown", message, retryInMs: wait };
      }
    }
    if (!policy) {
      const message = `RemediationPolicy "${remediation.spec.policyRef}" not found; apply it, or use policyRef: default`;
      return { reason: "PolicyNotFound", message, retryInMs: POLICY_RETRY_MS };
    }
    return undefined;
  }

  /** The named policy, or the built-in `default` when none by that name was applied. */
  private async policy(name: string, namespace: string): Promise<RemediationPolicySpec | undefined> {
    const stored = await this.deps.store.get("RemediationPolicy", { namespace, name });
    if (stored) return stored.spec;
    return name === "default" ? DEFAULT_POLICY : undefined;
  }

  private async cooldownLeft(remediation: AgentRemediation, cooldownMs: number): Promise<number> {
    if (cooldownMs <= 0) return 0;
    const siblings = await this.deps.store.list("AgentRemediation", remediation.metadata.namespace);
    const lastEnd = siblings
      .filter((r) => r.metadata.name !== remediation.metadata.name && r.spec.desiredStateRef.name === remediation.spec.desiredStateRef.name)
      .filter((r) => r.status?.sessionId !== undefined && r.status.closedAt !== undefined)
      .map((r) => Date.parse(r.status?.closedAt ?? ""))
      .reduce((a, b) => Math.max(a, b), 0);
    return Math.max(0, lastEnd + cooldownMs - Date.now());
  }

  private async consumeDecisions(remediation: AgentRemediation): Promise<void> {
    await this.deps.store.annotate("AgentRemediation", remediation.metadata, {
      [APPROVE]: undefined,
      [APPROVED_BY]: undefined,
      [DENY]: undefined,
      [DENIED_BY]: undefined,
      [DENY_REASON]: undefined,
    });
  }
}

/** Open, agent on, and not waiting for a person who has not decided yet. */
function needsSession(remediation: AgentRemediation): boolean {
  // The kubernetes store creates an object, then writes its status (a second call): a
  // session started in between would overwrite the opening status with an empty one. The
  // status write is a watch event, which brings the remediation back here.
  if (remediation.status?.openedAt === undefined) return false;
  if (!isOpen(remediation) || remediation.spec.mode === "off") return false;
  return remediation.status?.phase !== "AwaitingApproval" || hasDecisionFor(remediation);
}
