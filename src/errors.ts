/**
 * The one error family of Steward. Every error that reaches a user (CLI exit, condition
 * message, log line) is a StewardError or is wrapped in one with `cause`, so the message
 * names the step that failed and, where we know it, how to fix it.
 */
export class StewardError extends Error {
  override readonly name: string = "StewardError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Input a user gave us (YAML, flags, resources) is not acceptable. */
export class ValidationError extends StewardError {
  override readonly name = "ValidationError";
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
  }
}

/**
 * An object read from a store fails validation: stored before a rule existed (an older
 * CRD), or edited by hand. Its controller reports it (InvalidSpec) rather than act on it.
 */
export class InvalidObjectError extends StewardError {
  override readonly name = "InvalidObjectError";
  constructor(
    readonly kind: string,
    readonly objectName: string,
    readonly problems: readonly string[],
  ) {
    super(`${kind} ${JSON.stringify(objectName)} from the store is not a valid object: ${problems.join("; ")}`);
  }
}

/** The object does not exist in the store. */
export class NotFoundError extends StewardError {
  override readonly name = "NotFoundError";
  constructor(
    readonly kind: string,
    readonly objectName: string,
  ) {
    super(`${kind} "${objectName}" not found`);
  }
}

/** A write lost an optimistic-concurrency race: the object changed since it was read. */
export class ConflictError extends StewardError {
  override readonly name = "ConflictError";
  constructor(
    object: { kind: string; name: string },
    expected: string,
    actual: string,
    hint = "read it again and retry",
  ) {
    super(
      `${object.kind} "${object.name}" was modified concurrently (resourceVersion ${actual}, expected ${expected}); ${hint}`,
    );
  }
}

/**
 * A reconcile that must not be retried: retrying cannot help (invalid spec, unsupported
 * target). The work queue drops the key instead of backing off.
 */
export class TerminalError extends StewardError {
  override readonly name = "TerminalError";
}

/** Wraps any thrown value with a prefix naming the step that failed. */
export function wrapError(step: string, err: unknown): StewardError {
  const message = err instanceof Error ? err.message : String(err);
  return new StewardError(`${step}: ${message}`, { cause: err });
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
