/**
 * Values parsed from JSON or YAML, or received from a peer, before a schema has vouched for
 * them: the one guard for "an object with string keys".
 */

/** A non-null object that is not an array: a JSON object, or anything shaped like one. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
