import { parseDuration } from "../api/duration.js";
import type { RemediationPolicySpec } from "../api/policy.js";
import type { AgentRemediation } from "../api/remediation.js";
import { APPROVE, APPROVED_BY, DENIED_BY, DENY, DENY_REASON, hasDecisionFor } from "../agent/approvals.js";
import { DEFAULT_POLICY } from "../agent/policy.js";
import type { AgentRunner } from "../agent/runner.js";
import type { Store } from "../store/store.js";
import { DONE, requeueAfter, type ReconcileContext, type Reconciler, type ReconcileRequest, type ReconcileResult } from "./reconciler.js";
import { isOpen } from "./remediations.js";

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
    if (!remediation || !isOpen(remediation) || remediation.spec.mode === "off" || !runner) return DONE;
    const phase = remediation.status?.phase ?? "Pending";
    if (phase === "AwaitingApproval" && !hasDecisionFor(remediation)) return DONE;
    const desiredState = await store.get("DesiredState", { namespace: ref.namespace, name: remediation.spec.desiredStateRef.name });
    if (!desiredState) return DONE;
    if (phase === "Pending") {
      const wait = await this.cooldownLeft(remediation, parseDuration(desiredState.spec.remediation.cooldown) ?? 0);
      if (wait > 0) {
        await store.updateStatus("AgentRemediation", ref, {
          ...(remediation.status ?? { phase: "Pending", attempts: [], actions: [], pendingApproval: [], conditions: [] }),
          reason: "Cooldown",
          message: `another session for ${desiredState.metadata.name} ended recently; starting in ${Math.ceil(wait / 1000)}s (spec.remediation.cooldown)`,
        });
        return requeueAfter(wait);
      }
    }
    const policy = await this.policy(remediation.spec.policyRef, ref.namespace);
    await runner.run(remediation, desiredState, { policy, signal: context.signal, logger: context.logger });
    if (phase === "AwaitingApproval") await this.consumeDecisions(remediation);
    return DONE;
  }

  /** The named policy, or the built-in `default` when none by that name was applied. */
  private async policy(name: string, namespace: string): Promise<RemediationPolicySpec> {
    const stored = await this.deps.store.get("RemediationPolicy", { namespace, name });
    if (stored) return stored.spec;
    if (name === "default") return DEFAULT_POLICY;
    throw new Error(`RemediationPolicy "${name}" not found; apply it, or use policyRef: default`);
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
