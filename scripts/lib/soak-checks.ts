/**
 * The soak's verdicts, as pure functions of what it collected, so each can be tested on
 * its own: no lost records, no duplicate remediations, no duplicate Docker actions, flat
 * memory.
 */
import type { AgentRemediation } from "../../src/api/remediation.js";

export const TERMINAL_PHASES = new Set(["Resolved", "Failed", "Escalated", "Cancelled"]);

export interface Check<T> {
  pass: boolean;
  summary: string;
  details: T;
}

export const isOpen = (r: AgentRemediation): boolean => !TERMINAL_PHASES.has(r.status?.phase ?? "Pending");
const fingerprintOf = (r: AgentRemediation): string => `${r.spec.desiredStateRef.name}/${r.spec.fingerprint}`;

/**
 * Every remediation opened is in the store (as many as steward_remediations_opened_total
 * counted, and every name the "remediation opened" log lines gave), and each is either in
 * a terminal phase or still open with a reason.
 */
export function lostRecords(
  stored: readonly AgentRemediation[],
  openedTotal: number,
  openedNames: readonly string[],
): Check<{
  missing: string[];
  openWithoutReason: string[];
  stillOpen: { name: string; phase: string; reason: string }[];
}> {
  const names = new Set(stored.map((r) => r.metadata.name));
  const missing = openedNames.filter((n) => !names.has(n));
  const open = stored.filter(isOpen);
  const openWithoutReason = open.filter((r) => !r.status?.reason).map((r) => r.metadata.name);
  const stillOpen = open.map((r) => ({
    name: r.metadata.name,
    phase: r.status?.phase ?? "",
    reason: r.status?.reason ?? "",
  }));
  const countMatches = stored.length === openedTotal;
  return {
    pass: missing.length === 0 && openWithoutReason.length === 0 && countMatches,
    summary: `${stored.length} stored / ${openedTotal} opened (metric); ${missing.length} missing; ${stored.length - open.length} terminal, ${open.length} still open (${openWithoutReason.length} without a reason)`,
    details: { missing, openWithoutReason, stillOpen },
  };
}

/**
 * When the record came into being: the store's creationTimestamp. Not `status.openedAt`,
 * which is the time of the reconcile that opened it (its observation), earlier by as long
 * as that reconcile took.
 */
const createdAt = (r: AgentRemediation): number => Date.parse(r.metadata.creationTimestamp ?? r.status?.openedAt ?? "");

/** Remediations of one fingerprint whose [created, closedAt) overlap: two open at once. */
export function overlappingRemediations(
  stored: readonly AgentRemediation[],
  now: Date,
): { fingerprint: string; first: string; second: string }[] {
  const byFingerprint = new Map<string, AgentRemediation[]>();
  for (const r of stored) byFingerprint.set(fingerprintOf(r), [...(byFingerprint.get(fingerprintOf(r)) ?? []), r]);
  const overlaps: { fingerprint: string; first: string; second: string }[] = [];
  for (const [fingerprint, items] of byFingerprint) {
    const sorted = [...items].sort((a, b) => createdAt(a) - createdAt(b));
    for (let i = 1; i < sorted.length; i++) {
      const before = sorted[i - 1] as AgentRemediation;
      const after = sorted[i] as AgentRemediation;
      const closed = Date.parse(before.status?.closedAt ?? now.toISOString());
      if (closed > createdAt(after))
        overlaps.push({ fingerprint, first: before.metadata.name, second: after.metadata.name });
    }
  }
  return overlaps;
}

/** Remediations whose openedAt is earlier than the close of the one before on their fingerprint (a stale observation opened them). */
export function openedOnStaleObservation(stored: readonly AgentRemediation[]): string[] {
  const byFingerprint = new Map<string, AgentRemediation[]>();
  for (const r of stored) byFingerprint.set(fingerprintOf(r), [...(byFingerprint.get(fingerprintOf(r)) ?? []), r]);
  const found: string[] = [];
  for (const items of byFingerprint.values()) {
    const sorted = [...items].sort((a, b) => createdAt(a) - createdAt(b));
    for (let i = 1; i < sorted.length; i++) {
      const closed = Date.parse((sorted[i - 1] as AgentRemediation).status?.closedAt ?? "");
      const opened = Date.parse((sorted[i] as AgentRemediation).status?.openedAt ?? "");
      if (closed > opened) found.push((sorted[i] as AgentRemediation).metadata.name);
    }
  }
  return found;
}

/** Open remediations per fingerprint in one snapshot of the store; those with more than one. */
export function duplicateOpen(snapshot: readonly AgentRemediation[]): string[] {
  const counts = new Map<string, string[]>();
  for (const r of snapshot.filter(isOpen))
    counts.set(fingerprintOf(r), [...(counts.get(fingerprintOf(r)) ?? []), r.metadata.name]);
  return [...counts].filter(([, names]) => names.length > 1).map(([fp, names]) => `${fp}: ${names.join(", ")}`);
}

export interface ActionCounts {
  start: number;
  restart: number;
}

export interface RecordedActions {
  /** Records of changes that ran: simple fixes applied, agent actions that exited 0 (or whose outcome is unknown), the injector's own starts. */
  ran: ReadonlyMap<string, ActionCounts>;
  /** Attempts recorded as failed, which Docker may still have carried out (a restart that timed out). */
  failed: ReadonlyMap<string, ActionCounts>;
}

const ZERO: ActionCounts = { start: 0, restart: 0 };

/**
 * Per container: the starts and restarts Docker reported (its `start` events include the
 * one every restart makes) against those on record. More events than records of changes
 * that ran, plus failed attempts, is a duplicate (or an unrecorded) action; fewer is a
 * change that did nothing (a start of a running container, a start refused by Docker).
 */
export function duplicateActions(
  observed: ReadonlyMap<string, ActionCounts>,
  recorded: RecordedActions,
): Check<{ container: string; observed: ActionCounts; ran: ActionCounts; failed: ActionCounts }[]> {
  const names = [...new Set([...observed.keys(), ...recorded.ran.keys(), ...recorded.failed.keys()])].sort();
  const rows = names.map((container) => {
    const o = observed.get(container) ?? ZERO;
    return {
      container,
      observed: { start: o.start - o.restart, restart: o.restart },
      ran: recorded.ran.get(container) ?? ZERO,
      failed: recorded.failed.get(container) ?? ZERO,
    };
  });
  const extra = rows.filter(
    (r) => r.observed.start > r.ran.start + r.failed.start || r.observed.restart > r.ran.restart + r.failed.restart,
  );
  const total = (pick: (r: (typeof rows)[number]) => ActionCounts): number =>
    rows.reduce((n, r) => n + pick(r).start + pick(r).restart, 0);
  return {
    pass: extra.length === 0,
    summary: `${total((r) => r.observed)} starts/restarts seen by Docker; ${total((r) => r.ran)} recorded as run, ${total((r) => r.failed)} as failed attempts; ${extra.length === 0 ? "none unaccounted for" : `unaccounted for on ${extra.map((r) => r.container).join(", ")}`}`,
    details: rows,
  };
}

export interface RssSample {
  /** Seconds since Steward started. */
  t: number;
  rssMB: number;
  /** The V8 heap in use at that moment (it saws up and down with garbage collection). */
  heapUsedMB?: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? Number.NaN
    : s.length % 2 === 1
      ? (s[(s.length - 1) / 2] as number)
      : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

/** Least-squares slope of RSS over time, in MB per hour. */
export function slopeMBPerHour(samples: readonly RssSample[]): number {
  const n = samples.length;
  if (n < 2) return Number.NaN;
  const mt = samples.reduce((a, s) => a + s.t, 0) / n;
  const mr = samples.reduce((a, s) => a + s.rssMB, 0) / n;
  const cov = samples.reduce((a, s) => a + (s.t - mt) * (s.rssMB - mr), 0);
  const vt = samples.reduce((a, s) => a + (s.t - mt) ** 2, 0);
  return vt === 0 ? Number.NaN : (cov / vt) * 3600;
}

/** The lowest heap in use in the window: what survived the collections, i.e. what is live. */
const heapFloor = (window: readonly RssSample[]): number =>
  Math.min(...window.map((s) => s.heapUsedMB ?? Number.POSITIVE_INFINITY));

export interface MemoryDetails {
  warmupS: number;
  earlyMedianMB: number;
  lateMedianMB: number;
  slopeMBPerHour: number;
  peakMB: number;
  earlyHeapFloorMB: number;
  lateHeapFloorMB: number;
}

/**
 * Flat memory, after a warm-up (the first fifth of the run, at least a minute), comparing
 * the fifth after the warm-up with the last fifth. A leak keeps what it holds through every
 * collection, so it raises the heap's floor (its lowest value in a window); the verdict is
 * that floor not growing by more than max(8 MB, 10 %). RSS is reported beside it (medians,
 * least-squares slope, peak) and must not grow by more than max(32 MB, 20 %): V8 grows its
 * heap in steps and hands memory back to the OS late, so over minutes RSS climbs and drops
 * without leaking; over a 30-minute run its slope is the number to watch. Without heap
 * samples the verdict falls back to RSS alone, within max(16 MB, 10 %).
 */
export function flatMemory(samples: readonly RssSample[]): Check<MemoryDetails> {
  const end = samples.at(-1)?.t ?? 0;
  const warmupS = Math.max(60, end / 5);
  const steady = samples.filter((s) => s.t >= warmupS);
  const fifth = Math.max(1, Math.floor(steady.length / 5));
  const [early, late] = [steady.slice(0, fifth), steady.slice(-fifth)];
  const details: MemoryDetails = {
    warmupS,
    earlyMedianMB: median(early.map((s) => s.rssMB)),
    lateMedianMB: median(late.map((s) => s.rssMB)),
    slopeMBPerHour: slopeMBPerHour(steady),
    peakMB: Math.max(...samples.map((s) => s.rssMB)),
    earlyHeapFloorMB: heapFloor(early),
    lateHeapFloorMB: heapFloor(late),
  };
  const rssGrowth = details.lateMedianMB - details.earlyMedianMB;
  const haveHeap = Number.isFinite(details.earlyHeapFloorMB) && Number.isFinite(details.lateHeapFloorMB);
  const heapAllowed = Math.max(8, details.earlyHeapFloorMB * 0.1);
  const rssAllowed = haveHeap ? Math.max(32, details.earlyMedianMB * 0.2) : Math.max(16, details.earlyMedianMB * 0.1);
  const heapOk = !haveHeap || details.lateHeapFloorMB - details.earlyHeapFloorMB <= heapAllowed;
  const heapText = haveHeap
    ? `heap floor ${details.earlyHeapFloorMB.toFixed(1)} → ${details.lateHeapFloorMB.toFixed(1)} MB (allowed +${heapAllowed.toFixed(1)}); `
    : "";
  return {
    pass: steady.length >= 2 && heapOk && rssGrowth <= rssAllowed,
    summary: `${heapText}RSS median ${details.earlyMedianMB.toFixed(1)} → ${details.lateMedianMB.toFixed(1)} MB (allowed +${rssAllowed.toFixed(1)}), slope ${details.slopeMBPerHour.toFixed(1)} MB/h, peak ${details.peakMB.toFixed(1)} MB`,
    details,
  };
}
