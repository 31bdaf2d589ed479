import type { AgentRemediation, RemediationStatus } from "../api/remediation.js";
import { ConflictError, StewardError } from "../errors.js";
import { emptyRemediationStatus } from "../reconcile/remediations.js";
import type { ObjectRef, Store } from "../store/store.js";
import type { RemediationStatusWriter } from "./notifier.js";

/** Conflicts in a row before giving up (the reconcile is then retried with backoff). */
const MAX_CONFLICTS = 5;

/**
 * A RemediationStatusWriter by compare-and-swap: reads the remediation afresh from `read`
 * (the store itself, not a cache that may lag), applies the change, and writes it through
 * `write` with the resourceVersion it read; a write that lost the race is done again on
 * what won it.
 */
export class ConditionalStatusWriter implements RemediationStatusWriter {
  constructor(private readonly stores: { read: Store; write: Store }) {}

  async update(
    ref: ObjectRef,
    change: (status: RemediationStatus, remediation: AgentRemediation) => RemediationStatus,
  ): Promise<AgentRemediation | undefined> {
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const current = await this.stores.read.get("AgentRemediation", ref);
      if (!current) return undefined;
      const before = current.status ?? emptyRemediationStatus();
      const next = change(before, current);
      if (next === before) return current;
      try {
        return await this.stores.write.updateStatus("AgentRemediation", ref, next, {
          resourceVersion: current.metadata.resourceVersion,
        });
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
      }
    }
    throw new StewardError(
      `remediation ${ref.namespace}/${ref.name} kept changing: ${MAX_CONFLICTS} conflicting status writes`,
    );
  }
}
