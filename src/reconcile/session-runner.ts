import type { DesiredState } from "../api/desired-state.js";
import type { RemediationPolicySpec } from "../api/policy.js";
import type { AgentRemediation, PendingApproval } from "../api/remediation.js";
import { errorMessage, StewardError } from "../errors.js";
import type { Logger } from "../telemetry/logging.js";
import type { RemediationStatusPort } from "./remediation-status.js";

/**
 * What the remediation controller needs from an agent: run (start, resume or continue) the
 * session of one remediation until it ends or waits for a person. The agent implements
 * it; this layer owns the contract, so the controller never depends on the agent.
 */
export interface SessionRunner {
  run(remediation: AgentRemediation, desiredState: DesiredState, context: SessionRunContext): Promise<SessionOutcome>;
}

export interface SessionRunContext {
  policy: RemediationPolicySpec;
  /** Fires on shutdown, lost leadership or the session deadline: the session saves its state and returns. */
  signal: AbortSignal;
  logger: Logger;
  /**
   * The only way the session changes the remediation's status: the controller that runs it
   * owns the status and writes every change (remediation-status.ts). The remediation passed
   * to `run` holds the status as it was when the run began; this holds it as it is now.
   */
  status: RemediationStatusPort;
}

export type SessionOutcome =
  | { type: "awaitingApproval"; pending: PendingApproval[] }
  | { type: "resolved"; summary: string }
  | { type: "escalated"; reason: string }
  /** Stopped before it began: Steward was interrupted during too many of its changes (recovery.ts). */
  | { type: "interrupted"; reason: string };

/**
 * The Messages API could not be reached or answered with a transient error after the
 * SDK's own retries: the API is down or overloaded, not this incident's fault. The session
 * is saved and continues when the API answers again; the remediation is not escalated.
 */
export class ModelUnavailableError extends StewardError {
  override readonly name = "ModelUnavailableError";
  constructor(cause: unknown) {
    super(`the Messages API is unavailable: ${errorMessage(cause)}`, { cause });
  }
}
