import Anthropic from "@anthropic-ai/sdk";

/** Statuses the API uses for "try again later": timeout, lock conflict, rate limit. 5xx and 529 (overloaded) too. */
const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([408, 409, 429]);

/**
 * Whether an error from `messages.create` is transient: no connection, a timeout, or a
 * status the SDK itself retries (408, 409, 429, 5xx, 529). A 4xx that is not among them (a
 * bad request, a bad key) fails every session alike and is not transient; neither is our
 * own abort (APIUserAbortError carries no status and is not a connection error).
 */
export function isTransientApiError(err: unknown): boolean {
  if (err instanceof Anthropic.APIConnectionError) return true;
  if (!(err instanceof Anthropic.APIError) || typeof err.status !== "number") return false;
  return TRANSIENT_STATUSES.has(err.status) || err.status >= 500;
}
