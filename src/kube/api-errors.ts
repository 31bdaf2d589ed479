import { ApiException } from "@kubernetes/client-node";
import { errorMessage, StewardError } from "../errors.js";

/** The HTTP status of a failed API server call, looking through a StewardError's cause. */
export function statusCode(err: unknown): number | undefined {
  if (err instanceof ApiException) return (err as ApiException<unknown>).code;
  if (err instanceof StewardError) return statusCode(err.cause);
  return undefined;
}

/** `HTTP 422 Invalid: <the API server's message>` instead of the client's dump of headers. */
export function describeApiError(err: unknown): string {
  if (!(err instanceof ApiException)) return errorMessage(err);
  const { code, body } = err as ApiException<unknown>;
  let status: { reason?: string; message?: string } | undefined;
  try {
    status = (typeof body === "string" ? JSON.parse(body) : body) as typeof status;
  } catch {
    status = undefined;
  }
  return `HTTP ${code}${status?.reason ? ` ${status.reason}` : ""}: ${status?.message ?? String(body)}`;
}
