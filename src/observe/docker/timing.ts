/**
 * Deadlines, backoff and bounded concurrency for talking to the Docker daemon. A hung
 * daemon accepts the connection and never answers, so every call needs its own deadline;
 * a dockerode call given an `abortSignal` destroys its request when the signal fires.
 */
import { StewardError, wrapError } from "../../errors.js";

/** How long one non-streaming Docker API call may take. */
export const DOCKER_CALL_TIMEOUT_MS = 10_000;

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/**
 * Reconnect delays: 250 ms doubling to 5 s. The daemon is local, so retrying is cheap,
 * and a restarted daemon (a few seconds) should be seen again within about one cap.
 */
export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 5_000 };

/** ±20 %: enough to spread many observers reconnecting to one restarted daemon. */
export const BACKOFF_JITTER_RATIO = 0.2;

/** The delay before retry number `failures` (0-based), capped and jittered. */
export function backoffDelay(
  failures: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(failures, 30);
  const base = Math.min(options.maxMs, options.initialMs * 2 ** exponent);
  const jitter = base * BACKOFF_JITTER_RATIO * (random() * 2 - 1);
  return Math.max(0, Math.round(Math.min(options.maxMs, base + jitter)));
}

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
  const timer = setTimeout(
    () => controller.abort(new StewardError(`no answer within ${timeoutMs} ms`)),
    timeoutMs,
  );
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

/**
 * Maps with at most `limit` calls in flight; results keep the input order. After the
 * first failure no new call starts, and the returned promise rejects with that failure.
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The HTTP status dockerode attached to an error, looking through `cause` wrappers. */
export function statusCodeOf(err: unknown): number | undefined {
  for (let current = err, depth = 0; current && depth < 5; depth++) {
    if (typeof current !== "object") return undefined;
    const code = (current as { statusCode?: unknown }).statusCode;
    if (typeof code === "number") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
