/**
 * The audit trail of one remediation: an append-only JSONL file in which every line is
 * chained to the one before it, so that a later edit, deletion, reordering or truncation
 * is found by `verifyAuditFile`, which names the first bad line.
 *
 * Line format, keys in this order:
 *   {"seq":1,"time":"…Z","kind":"tool_call","prevHash":"<64 hex>","data":{…},"hash":"<64 hex>"}
 * - `seq` counts 1, 2, 3… without gaps, across restarts: `open` continues an existing chain.
 * - `prevHash` is the SHA-256 of the previous line's exact bytes (without its newline);
 *   64 zeros on line 1.
 * - `hash` is the SHA-256 of the canonical JSON (keys sorted) of {seq,time,kind,prevHash,data}.
 *   Why both: `prevHash` exposes an edited line only through its successor, so an edit of the
 *   last line would go unseen; `hash` exposes an edit of any line on that line itself.
 *
 * Limits, stated plainly: this is a hash chain, not a signature. A writer who recomputes the
 * hashes from the edited line onwards, or who cuts whole lines off the end, leaves a file
 * that verifies. Against both, store `AuditLog.head` elsewhere (the remediation status) and
 * pass it to `verifyAuditFile` as `expectedHead`.
 *
 * Crash safety: each entry is one write of `line + "\n"` on an O_APPEND descriptor, fsynced
 * when the caller asks (after every mutating action and at the end). Earlier lines are never
 * rewritten, so a crash loses at most the unsynced tail; it may leave the final line torn
 * (no trailing newline). `open` refuses such a file, naming the file and line, unless
 * `repairTornTail` is set: then it cuts the torn bytes off and records that in a `session`
 * entry (with the first 500 characters of what was cut). After a failed write the log
 * refuses further appends (the file may now end torn); reopen it with `repairTornTail`.
 * One writer per file: two would fork the chain (verify then names the fork). Leader
 * election gives Steward one writer; appends within one AuditLog are serialized.
 *
 * `data` by kind — the field names `renderAuditForPerson` and `steward logs` rely on:
 *   reasoning        {text}
 *   tool_call        {id, tool, input}
 *   policy_decision  {id, decision: "allow"|"ask"|"deny", reason, stage, rule?}
 *   approval         {id, approved, by, reason?}
 *   tool_result      {id, isError, output, exitCode?, durationMs?}
 *   model_usage      {inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, costUSD,
 *                     model?, requestId?, stopReason? (string or null)}
 *   verification     {cleared, details, phase?, attempt?}
 *   phase_change     {from, to, reason}
 *   action           {id, tool, command, state: "Started"|"Unknown", reason?} — a change's
 *                    idempotency record: "Started" fsynced before it runs; "Unknown" when a
 *                    restarted Steward found it started and never finished (it is not re-run)
 *   session          {event: "started"|"resumed"|"ended"|"escalated"|"repaired"|…, sessionId?,
 *                     model?, mode?, attempt?, reason?, line?, discardedBytes?, discarded?}
 * `id` is the model's tool_use id, which ties a call to its policy decision, approval and
 * result. Every string in `data` (keys included) passes through `sanitize` before it is written.
 */
import { createHash } from "node:crypto";
import { mkdir, open, readFile, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import type { AuditHead } from "../api/remediation.js";
import { StewardError, errorMessage, wrapError } from "../errors.js";

export const AUDIT_KINDS = [
  "reasoning",
  "tool_call",
  "policy_decision",
  "approval",
  "tool_result",
  "model_usage",
  "verification",
  "phase_change",
  "session",
  "action",
] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface AuditEntry {
  seq: number;
  time: string;
  kind: AuditKind;
  prevHash: string;
  data: JsonObject;
  hash: string;
}

export interface AuditDataByKind {
  reasoning: { text: string };
  tool_call: { id: string; tool: string; input: unknown };
  /** `stage` names the layer that decided (e.g. "mode", "rule", "budget"); `rule` the matching rule. */
  policy_decision: { id: string; decision: "allow" | "ask" | "deny"; reason: string; stage: string; rule?: string };
  approval: { id: string; approved: boolean; by: string; reason?: string };
  tool_result: { id: string; isError: boolean; output: string; exitCode?: number; durationMs?: number };
  model_usage: {
    inputTokens: number;
    outputTokens: number;
    cacheReadTokens: number;
    cacheWriteTokens: number;
    costUSD: number;
    model?: string;
    requestId?: string;
    stopReason?: string | null;
  };
  /** `phase` is the phase this verification leads to (Resolved, another attempt, Escalated). */
  verification: { cleared: boolean; details: string; phase?: string; attempt?: number };
  phase_change: { from: string; to: string; reason: string };
  action: { id: string; tool: string; command: string[]; state: "Started" | "Unknown"; reason?: string };
  session: {
    event: string;
    sessionId?: string;
    model?: string;
    mode?: string;
    attempt?: number;
    reason?: string;
    line?: number;
    discardedBytes?: number;
    discarded?: string;
  };
}

export interface AuditLogOptions {
  /** Applied to every string in `data` before it is written; the caller passes the secret redactor. */
  sanitize?: (text: string) => string;
  /** Cut a torn final line off instead of refusing to open; the repair is logged. */
  repairTornTail?: boolean;
  /** For tests. */
  clock?: () => Date;
}

export type AuditVerifyResult =
  { ok: true; entries: number; head: string } | { ok: false; line: number; reason: string };

const ZERO_HASH = "0".repeat(64);
const sha256 = (bytes: string | Buffer): string => createHash("sha256").update(bytes).digest("hex");

/** Keys sorted at every level, so the entry hash does not depend on how a line was written. */
function canonical(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k] ?? null)}`).join(",")}}`;
}

function entryHash(e: Omit<AuditEntry, "hash">): string {
  return sha256(canonical({ seq: e.seq, time: e.time, kind: e.kind, prevHash: e.prevHash, data: e.data }));
}

type Sanitize = (text: string) => string;

/** Turns caller data into plain JSON, sanitizing every string; JSON.stringify's rules otherwise. */
function toJson(value: unknown, sanitize: Sanitize, ancestors: Set<object>): JsonValue | undefined {
  if (typeof value === "string") return sanitize(value);
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "boolean" || value === null) return value;
  if (typeof value === "bigint") return value.toString();
  if (typeof value !== "object") return undefined;
  if (ancestors.has(value)) throw new StewardError("audit data contains a circular reference");
  ancestors.add(value);
  try {
    return objectToJson(value, sanitize, ancestors);
  } finally {
    ancestors.delete(value);
  }
}

function objectToJson(value: object, sanitize: Sanitize, ancestors: Set<object>): JsonValue | undefined {
  if (Array.isArray(value)) return value.map((v: unknown) => toJson(v, sanitize, ancestors) ?? null);
  // An Error's message is the useful part, and JSON.stringify would drop it.
  if (value instanceof Error) return { name: value.name, message: sanitize(value.message) };
  if ("toJSON" in value && typeof value.toJSON === "function")
    return toJson((value as { toJSON: () => unknown }).toJSON(), sanitize, ancestors);
  const out: JsonObject = {};
  for (const [key, v] of Object.entries(value)) {
    const json = toJson(v, sanitize, ancestors);
    if (json !== undefined) out[sanitize(key)] = json;
  }
  return out;
}

const ENTRY_KEYS = ["seq", "time", "kind", "prevHash", "data", "hash"];
const isHex64 = (v: unknown): boolean => typeof v === "string" && /^[0-9a-f]{64}$/.test(v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isAuditKind = (v: unknown): v is AuditKind =>
  typeof v === "string" && (AUDIT_KINDS as readonly string[]).includes(v);
const FIELD_CHECKS: [string, (v: unknown) => boolean, string][] = [
  ["seq", (v) => typeof v === "number" && Number.isSafeInteger(v) && v >= 1, "a positive integer"],
  ["time", (v) => typeof v === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(v), "an ISO-8601 UTC time"],
  ["kind", isAuditKind, `one of ${AUDIT_KINDS.join(", ")}`],
  ["prevHash", isHex64, "64 lowercase hex digits"],
  ["data", isObject, "an object"],
  ["hash", isHex64, "64 lowercase hex digits"],
];

/** Parses one line (without its newline) into an entry, or says why it is not one. */
function parseEntry(raw: Buffer): AuditEntry | string {
  if (raw.length === 0) return "empty line";
  let value: unknown;
  try {
    value = JSON.parse(raw.toString("utf8"));
  } catch {
    return "not valid JSON";
  }
  if (!isObject(value)) return "not a JSON object";
  if (Object.keys(value).join() !== ENTRY_KEYS.join())
    return `fields must be exactly ${ENTRY_KEYS.join(", ")} in that order`;
  for (const [key, check, what] of FIELD_CHECKS) {
    if (!check(value[key])) return `${key} must be ${what}`;
  }
  return value as unknown as AuditEntry;
}

/** Lines as byte slices (hashes are over bytes), and the bytes after the last newline. */
function splitLines(bytes: Buffer): { lines: Buffer[]; torn: Buffer } {
  const lines: Buffer[] = [];
  let start = 0;
  for (let nl = bytes.indexOf(10); nl >= 0; nl = bytes.indexOf(10, start)) {
    lines.push(bytes.subarray(start, nl));
    start = nl + 1;
  }
  return { lines, torn: bytes.subarray(start) };
}

async function readBytes(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw wrapError(`audit log ${path}: read`, err);
  }
}

/** Why: fsync of a new file does not persist its directory entry. Best effort (not every platform allows it). */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    /* the file's own fsync still holds */
  }
}

export class AuditLog {
  private queue: Promise<unknown> = Promise.resolve();
  private failure: unknown;
  private closed = false;
  private seq: number;
  private lastHash: string;
  private synced: AuditHead | undefined;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    chain: { seq: number; head: string },
    private readonly options: Required<Omit<AuditLogOptions, "repairTornTail">>,
  ) {
    this.seq = chain.seq;
    this.lastHash = chain.head;
    // Lines already in the file when it is opened were written by an earlier run: they count as on disk.
    this.synced = chain.seq > 0 ? { seq: chain.seq, hash: chain.head } : undefined;
  }

  /** Opens (creating with mode 0600, parents too) and continues the file's chain. */
  static async open(path: string, options: AuditLogOptions = {}): Promise<AuditLog> {
    const resolved = {
      sanitize: options.sanitize ?? ((t: string): string => t),
      clock: options.clock ?? ((): Date => new Date()),
    };
    let fh: FileHandle;
    try {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      fh = await open(path, "a", 0o600);
    } catch (err) {
      throw wrapError(`audit log ${path}: open`, err);
    }
    try {
      // Reading the whole file keeps this simple and lets a torn line be named by number;
      // audit files are small (tool output is truncated before it gets here).
      const { lines, torn } = splitLines(await readBytes(path));
      if (lines.length === 0 && torn.length === 0) await syncDirectory(dirname(path));
      const log = new AuditLog(path, fh, chainHead(path, lines), resolved);
      if (torn.length > 0) await log.repairTail(lines, torn, options.repairTornTail === true);
      return log;
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** The next entry's seq minus one: how many entries the chain holds. */
  get lastSeq(): number {
    return this.seq;
  }
  /** SHA-256 of the last line. */
  get head(): string {
    return this.lastHash;
  }

  /**
   * The last entry known to be on disk (fsynced, or in the file when it was opened):
   * what the remediation status records as `auditHead`, for `verifyAuditFile`'s `expected`.
   * Undefined while the chain is empty.
   */
  get syncedHead(): AuditHead | undefined {
    return this.synced;
  }

  /** Appends one entry; calls are serialized in call order, so concurrent appends never interleave. */
  async append<K extends AuditKind>(
    kind: K,
    data: AuditDataByKind[K],
    options: { sync?: boolean } = {},
  ): Promise<AuditEntry> {
    if (!isAuditKind(kind)) throw new StewardError(`audit log ${this.path}: unknown kind ${JSON.stringify(kind)}`);
    // Sanitize before queueing: a failure here rejects only this call and leaves the log usable.
    const clean = toJson(data, this.options.sanitize, new Set());
    if (!isObject(clean)) throw new StewardError(`audit log ${this.path}: data for ${kind} must be an object`);
    const written = this.queue.then(() => this.write(kind, clean, options.sync === true));
    this.queue = written.catch(() => undefined);
    return written;
  }

  /** Flushes pending appends, fsyncs and closes. Idempotent. */
  async close(): Promise<void> {
    await this.queue;
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.failure === undefined) {
        await this.fh.sync();
        if (this.seq > 0) this.synced = { seq: this.seq, hash: this.lastHash };
      }
    } finally {
      await this.fh.close();
    }
  }

  private async write(kind: AuditKind, data: JsonObject, sync: boolean): Promise<AuditEntry> {
    if (this.closed) throw new StewardError(`audit log ${this.path}: append after close`);
    if (this.failure !== undefined) {
      throw new StewardError(
        `audit log ${this.path}: refusing to append after a failed write (${errorMessage(this.failure)}); reopen it with repairTornTail`,
        { cause: this.failure },
      );
    }
    const body = { seq: this.seq + 1, time: this.options.clock().toISOString(), kind, prevHash: this.lastHash, data };
    const entry: AuditEntry = { ...body, hash: entryHash(body) };
    const line = JSON.stringify(entry);
    const bytes = Buffer.from(`${line}\n`, "utf8");
    try {
      // One write; the loop only matters for a short write (a full disk), which then throws.
      for (let offset = 0; offset < bytes.length;) {
        offset += (await this.fh.write(bytes, offset, bytes.length - offset)).bytesWritten;
      }
      if (sync) await this.fh.sync();
    } catch (err) {
      this.failure = err;
      throw wrapError(`audit log ${this.path}: append seq ${body.seq}`, err);
    }
    this.seq = body.seq;
    this.lastHash = sha256(line);
    if (sync) this.synced = { seq: this.seq, hash: this.lastHash };
    return entry;
  }

  private async repairTail(lines: Buffer[], torn: Buffer, repair: boolean): Promise<void> {
    const line = lines.length + 1;
    if (!repair) {
      throw new StewardError(
        `audit log ${this.path}: line ${line} is torn (${torn.length} bytes without a trailing newline: a write was interrupted, probably by a crash). ` +
          `The ${lines.length} lines before it are intact. Open it with repairTornTail to cut the torn line off (the repair is logged).`,
      );
    }
    const keep = lines.reduce((n, l) => n + l.length + 1, 0);
    await this.fh.truncate(keep);
    await this.fh.sync();
    const discarded = torn.toString("utf8").slice(0, 500);
    await this.append(
      "session",
      { event: "repaired", line, discardedBytes: torn.length, discarded, reason: "torn final line cut off on open" },
      { sync: true },
    );
  }
}

function chainHead(path: string, lines: Buffer[]): { seq: number; head: string } {
  const last = lines.at(-1);
  if (last === undefined) return { seq: 0, head: ZERO_HASH };
  const entry = parseEntry(last);
  if (typeof entry === "string") {
    throw new StewardError(
      `audit log ${path}: cannot continue the chain: line ${lines.length} is not an entry (${entry}); run "steward audit verify" on it`,
    );
  }
  return { seq: entry.seq, head: sha256(last) };
}

function seqOf(raw: Buffer): number | undefined {
  const entry = parseEntry(raw);
  return typeof entry === "string" ? undefined : entry.seq;
}

function seqProblem(lines: readonly Buffer[], index: number, seq: number): string {
  const expected = index + 1;
  const at = lines.findIndex((raw, i) => i > index && seqOf(raw) === expected);
  if (at >= 0)
    return `seq ${seq} where ${expected} was expected: lines are out of order (seq ${expected} is on line ${at + 1})`;
  const missing = seq - expected;
  if (missing > 0)
    return `seq ${seq} where ${expected} was expected: ${missing === 1 ? "1 entry" : `${missing} entries`} before this line deleted`;
  return `seq ${seq} where ${expected} was expected: a duplicated or replayed entry`;
}

/**
 * Checks the whole chain and names the first bad line (1-based). An edited line is named
 * itself, whether its own hash or its successor's prevHash gives it away. Lines cut off the
 * end at a line boundary are invisible to the chain: pass `expectedHead` to catch that.
 */
export async function verifyAuditFile(
  path: string,
  options: { expectedHead?: string } = {},
): Promise<AuditVerifyResult> {
  const { lines, torn } = splitLines(await readBytes(path));
  const bad = (line: number, reason: string): AuditVerifyResult => ({ ok: false, line, reason });
  const hashes: string[] = [];
  let prev = ZERO_HASH;
  for (const [i, raw] of lines.entries()) {
    const problem = chainProblem(lines, i, prev);
    if (problem) return bad(problem.line, problem.reason);
    prev = sha256(raw);
    hashes.push(prev);
  }
  if (torn.length > 0)
    return bad(
      lines.length + 1,
      `torn final line: ${torn.length} bytes without a trailing newline (an interrupted write, or the file was truncated)`,
    );
  if (options.expectedHead !== undefined && !hashes.includes(options.expectedHead)) {
    return bad(
      lines.length + 1,
      `the entry with hash ${options.expectedHead.slice(0, 12)}… recorded elsewhere is missing: lines were cut off the end, or the file was replaced`,
    );
  }
  return { ok: true, entries: lines.length, head: prev };
}

/** What is wrong with line i + 1 given the hash of the line before it, and which line is to blame. */
function chainProblem(lines: readonly Buffer[], i: number, prev: string): { line: number; reason: string } | undefined {
  const entry = parseEntry(lines[i] ?? Buffer.alloc(0));
  if (typeof entry === "string") return { line: i + 1, reason: entry };
  if (entryHash(entry) !== entry.hash) {
    return { line: i + 1, reason: "content changed after it was written (its hash does not match its content)" };
  }
  if (entry.seq !== i + 1) return { line: i + 1, reason: seqProblem(lines, i, entry.seq) };
  if (entry.prevHash === prev) return undefined;
  return i === 0
    ? { line: 1, reason: "the first entry's prevHash is not 64 zeros: the start of the file is missing" }
    : {
        line: i,
        reason: `content changed after it was written (line ${i + 1}'s prevHash does not match this line's bytes)`,
      };
}

/**
 * Parses every entry, for display. It does not check the chain (that is verifyAuditFile's
 * job) and skips a torn final line; a complete line that is not an entry is an error.
 */
export async function readAuditFile(path: string): Promise<AuditEntry[]> {
  const { lines } = splitLines(await readBytes(path));
  return lines.map((raw, i) => {
    const entry = parseEntry(raw);
    if (typeof entry === "string") throw new StewardError(`audit log ${path}: line ${i + 1}: ${entry}`);
    return entry;
  });
}
