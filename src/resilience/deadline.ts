/**
 * Deadlines: every call to another process has one. A hung peer accepts the connection and
 * never answers; a call given an `AbortSignal` destroys its request when the signal fires.
 */
import { StewardError, wrapError } from "../errors.js";

/**
 * Runs `call` with a signal that fires after `timeoutMs` or when `parent` aborts, and
 * rejects at that moment even if `call` ignores the signal. Errors are wrapped with
 * `step`; a timeout or abort is reported by its reason, not as "This operation was aborted".
 */
export async function withDeadline<T>(
  step: string,
  timeoutMs: number,
  call: (signal: AbortSignal) => Promise<T>,
  parent?: AbortSignal,
): Promise<T> {
  if (parent?.aborted) throw wrapError(step, parent.reason);
  const controller = new AbortController();
  const onParentAbort = (): void => controller.abort(parent?.reason);
  parent?.addEventListener("abort", onParentAbort, { once: true });
  const timer = setTimeout(() => controller.abort(new StewardError(`no answer within ${timeoutMs} ms`)), timeoutMs);
  try {
    return await Promise.race([call(controller.signal), rejectOnAbort(controller.signal)]);
  } catch (err) {
    throw wrapError(step, controller.signal.aborted ? controller.signal.reason : err);
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener("abort", onParentAbort);
  }
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    signal.addEventListener("abort", () => reject(signal.reason as Error), { once: true });
  });
}

/** Resolves after `ms`, or early (without error) when `signal` aborts. Leaves no timer behind. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
