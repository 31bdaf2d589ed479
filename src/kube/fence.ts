import { StewardError } from "../errors.js";

/**
 * Checked synchronously right before a side effect is sent: a write to the API server, a
 * Docker or Kubernetes action, a tool's process. With leader election it throws
 * NotLeaderError unless this replica holds the Lease at that moment, so work that outlived
 * its leadership (a step between two awaits, a retry loop) cannot act. Without leader
 * election it never throws.
 *
 * Caveat: it guards what is *sent* after the check. A request already on the wire when the
 * lease was lost is not recalled; it was sent while the lease was held (see ADR 0003).
 */
export interface Fence {
  check(step: string): void;
}

export const OPEN_FENCE: Fence = { check: () => undefined };

/** A side effect was refused because this replica does not hold the leader Lease. */
export class NotLeaderError extends StewardError {
  override readonly name = "NotLeaderError";
  constructor(step: string) {
    super(
      `${step}: refused, this replica does not hold the leader lease (another replica acts, or this one is stepping down)`,
    );
  }
}
