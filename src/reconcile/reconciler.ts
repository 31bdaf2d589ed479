import type { Logger } from "../telemetry/logging.js";

/** A request names the object to reconcile; it is not an event and carries no state. */
export interface ReconcileRequest {
  key: string;
  namespace: string;
  name: string;
}

export interface ReconcileContext {
  /** Aborted at the reconcile's deadline or at shutdown; `signal.reason` tells which. */
  signal: AbortSignal;
  logger: Logger;
}

/**
 * What a reconcile asks of the queue:
 * - `done`: forget the key's failures; it is reconciled again only when something changes;
 * - `requeueAfter`: forget the failures and reconcile again after `ms` (a `for:` window
 *   ending, the periodic re-evaluation of invariants);
 * An ordinary thrown error retries the key with per-key exponential backoff; a thrown
 * `TerminalError` drops it until something changes (retrying cannot help).
 */
export type ReconcileResult = { type: "done" } | { type: "requeueAfter"; ms: number };

export interface Reconciler {
  reconcile(request: ReconcileRequest, context: ReconcileContext): Promise<ReconcileResult>;
}

export const DONE: ReconcileResult = { type: "done" };

export function requeueAfter(ms: number): ReconcileResult {
  return { type: "requeueAfter", ms };
}
