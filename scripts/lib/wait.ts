import { setTimeout as sleep } from "node:timers/promises";

/**
 * Polls `check` every 25 ms until it returns a truthy value, and returns that value.
 * On timeout it fails with the description and the last value seen, so a failing test
 * says what it was waiting for and what it got instead.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs: number,
  description: string,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const seen = lastError instanceof Error ? `error: ${lastError.message}` : `last value: ${JSON.stringify(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description} (${seen})`);
    }
    await sleep(25);
  }
}
