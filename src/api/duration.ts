import { z } from "zod";

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/**
 * Prometheus-style durations: one or more <number><unit> parts, largest unit first ("1h30m").
 * Also the `pattern` of every duration field in the generated CRDs, so it must stay valid
 * in Go's RE2 as well as in JavaScript (no lookaround, no backreferences). It matches ""
 * too: `parseDuration` rejects that, and the CRDs add `minLength: 1`.
 */
export const DURATION_RE = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;

/**
 * The longest duration text accepted (also the CRDs' maxLength, which bounds the cost of
 * the API server's CEL rules over durations). "1d23h59m59s999ms" is 16 characters.
 */
export const MAX_DURATION_LENGTH = 32;

/** Milliseconds in a duration like "30s", "5m", "1h30m", "250ms"; undefined if malformed. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_RE.exec(text);
  if (!match || text === "" || text.length > MAX_DURATION_LENGTH) return undefined;
  const [, d, h, m, s, ms] = match;
  return (
    Number(d ?? 0) * UNIT_MS.d +
    Number(h ?? 0) * UNIT_MS.h +
    Number(m ?? 0) * UNIT_MS.m +
    Number(s ?? 0) * UNIT_MS.s +
    Number(ms ?? 0) * UNIT_MS.ms
  );
}

/** Renders milliseconds the way kubectl renders ages: "45s", "3m12s", "2h5m", "3d". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return s % 60 === 0 ? `${Math.floor(s / 60)}m` : `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 86_400) {
    const m = Math.floor((s % 3600) / 60);
    return m === 0 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 3600)}h${m}m`;
  }
  return `${Math.floor(s / 86_400)}d`;
}

/** A duration string in a resource, validated with a message that shows the bad value. */
export const Duration = z.string().superRefine((value, ctx) => {
  if (parseDuration(value) === undefined) {
    ctx.addIssue({
      code: "custom",
      message: `expected a duration like "30s", got ${JSON.stringify(value)}`,
    });
  }
});

/**
 * A duration of at most `max` (itself a duration). The CRDs carry the same bound as a CEL
 * rule (see crds.ts), so the API server refuses what `steward apply` refuses.
 */
export function durationAtMost(max: string): z.ZodString {
  const maxMs = parseDuration(max);
  if (maxMs === undefined) throw new Error(`durationAtMost: ${JSON.stringify(max)} is not a duration`);
  return z.string().superRefine((value, ctx) => {
    const ms = parseDuration(value);
    const message =
      ms === undefined
        ? `expected a duration like "30s", got ${JSON.stringify(value)}`
        : ms > maxMs
          ? `expected at most ${max}, got ${JSON.stringify(value)}`
          : undefined;
    if (message) ctx.addIssue({ code: "custom", message });
  });
}
