/**
 * Docker's `/events` endpoint is newline-delimited JSON over a chunked HTTP response.
 * Chunk boundaries follow the socket, not the events: one chunk may hold several events,
 * half of one, or half of a multi-byte UTF-8 character. This module splits on bytes and
 * decodes only complete lines, so a chunk is never parsed as one event.
 */
import { errorMessage } from "../../errors.js";
import { isRecord } from "../../json.js";

/** A line longer than this is not an event we can use; it is dropped, never buffered. */
export const MAX_EVENT_LINE_BYTES = 1024 * 1024;

const NEWLINE = 0x0a;
const PREVIEW_CHARS = 200;

/** A line that was dropped because it exceeded the limit. */
export interface OverlongLine {
  bytes: number;
  /** The start of the line, for the log; never the whole thing. */
  preview: string;
}

export interface SplitResult {
  lines: string[];
  overlong: OverlongLine[];
}

/**
 * Incremental splitter. Blank lines are skipped and a trailing `\r` is removed. Memory is
 * bounded by `maxLineBytes`: past it the rest of the line is counted, not kept.
 */
export class EventLineSplitter {
  private parts: Buffer[] = [];
  private pendingBytes = 0;
  /** Set while skipping the rest of an overlong line; its bytes seen so far. */
  private discarding: { bytes: number; preview: string } | undefined;

  constructor(private readonly maxLineBytes: number = MAX_EVENT_LINE_BYTES) {}

  push(chunk: Buffer | string): SplitResult {
    const data = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    const result: SplitResult = { lines: [], overlong: [] };
    let start = 0;
    for (let nl = data.indexOf(NEWLINE); nl !== -1; nl = data.indexOf(NEWLINE, start)) {
      this.append(data.subarray(start, nl));
      this.finishLine(result);
      start = nl + 1;
    }
    this.append(data.subarray(start));
    return result;
  }

  /** Flushes a final line that had no newline (the stream ended). */
  end(): SplitResult {
    const result: SplitResult = { lines: [], overlong: [] };
    if (this.pendingBytes > 0 || this.discarding) this.finishLine(result);
    return result;
  }

  private append(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.discarding) {
      this.discarding.bytes += bytes.length;
      return;
    }
    this.parts.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes > this.maxLineBytes) {
      const head = Buffer.concat(this.parts).subarray(0, PREVIEW_CHARS * 4);
      this.discarding = {
        bytes: this.pendingBytes,
        preview: head.toString("utf8").slice(0, PREVIEW_CHARS),
      };
      this.parts = [];
      this.pendingBytes = 0;
    }
  }

  private finishLine(result: SplitResult): void {
    if (this.discarding) {
      result.overlong.push(this.discarding);
      this.discarding = undefined;
      return;
    }
    const bytes = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    this.parts = [];
    this.pendingBytes = 0;
    if (!bytes) return;
    const line = bytes.toString("utf8").replace(/\r$/, "");
    if (line.trim() !== "") result.lines.push(line);
  }
}

/** A container event, reduced to what the observer needs. */
export interface ContainerEvent {
  id: string;
  /** Docker's action; health changes look like `health_status: unhealthy`. */
  action: string;
  /**
   * Nanoseconds since the epoch (`timeNano`). A JS number holds it to about 0.25 µs, which
   * is plenty for `since` (seconds) and logs; do not compare two events for equality by it.
   */
  time: number;
  name?: string;
  /**
   * Docker mixes the container's labels with its own attributes (`name`, `image`,
   * `exitCode`, `signal`); those are taken out here, so a label with one of those keys
   * is lost — caveat of the events API, inspect has the exact labels.
   */
  labels: Record<string, string>;
  /** Present on `die`. */
  exitCode?: number;
}

export type ParsedEvent =
  | { kind: "container"; event: ContainerEvent }
  /** A well-formed event about something other than a container. */
  | { kind: "ignored"; type: string }
  | { kind: "malformed"; error: string };

const STATE_ACTIONS: ReadonlySet<string> = new Set([
  "create",
  "start",
  "die",
  "stop",
  "kill",
  "oom",
  "restart",
  "pause",
  "unpause",
  "rename",
  "update",
  "destroy",
]);

/**
 * The events-stream filter that asks the daemon for exactly the actions `affectsState`
 * keeps (Docker matches `health_status` as a prefix). Healthchecks otherwise send three
 * exec events per probe per container, which cost parsing and grow with the number of
 * containers, not with changes.
 */
export const STATE_EVENT_FILTER: readonly string[] = [...STATE_ACTIONS, "health_status"];

/** Whether an action can change a snapshot; exec_*, attach, resize, top… cannot. */
export function affectsState(action: string): boolean {
  return STATE_ACTIONS.has(action) || action.startsWith("health_status");
}

const NON_LABEL_ATTRIBUTES = new Set(["name", "image", "exitCode", "signal", "execID"]);

/** Parses one line of the events stream. Never throws. */
export function parseDockerEvent(line: string): ParsedEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    return { kind: "malformed", error: `not JSON: ${errorMessage(err)}` };
  }
  if (!isRecord(raw)) return { kind: "malformed", error: "not a JSON object" };
  const type = raw["Type"];
  if (typeof type !== "string") return { kind: "malformed", error: "no Type" };
  if (type !== "container") return { kind: "ignored", type };
  return parseContainerEvent(raw);
}

function parseContainerEvent(raw: Record<string, unknown>): ParsedEvent {
  const actor = isRecord(raw["Actor"]) ? raw["Actor"] : {};
  const id = actor["ID"];
  const action = raw["Action"];
  if (typeof id !== "string" || id === "") return { kind: "malformed", error: "no Actor.ID" };
  if (typeof action !== "string" || action === "") return { kind: "malformed", error: "no Action" };
  const time = eventTime(raw);
  if (time === undefined) return { kind: "malformed", error: "no timeNano or time" };
  const attributes = isRecord(actor["Attributes"]) ? actor["Attributes"] : {};
  return { kind: "container", event: { id, action, time, ...splitAttributes(attributes) } };
}

function eventTime(raw: Record<string, unknown>): number | undefined {
  const nano = raw["timeNano"];
  if (typeof nano === "number" && Number.isFinite(nano)) return nano;
  const seconds = raw["time"];
  if (typeof seconds === "number" && Number.isFinite(seconds)) return seconds * 1e9;
  return undefined;
}

function splitAttributes(attributes: Record<string, unknown>): Pick<ContainerEvent, "name" | "labels" | "exitCode"> {
  // fromEntries defines each label, so one named `__proto__` stays a label.
  const labels = Object.fromEntries(
    Object.entries(attributes).filter(([key, value]) => typeof value === "string" && !NON_LABEL_ATTRIBUTES.has(key)),
  ) as Record<string, string>;
  const out: Pick<ContainerEvent, "name" | "labels" | "exitCode"> = { labels };
  const name = attributes["name"];
  if (typeof name === "string") out.name = name;
  // Docker writes it as a decimal string; Number() would also read "", " ", "0x10" or true.
  const exitCode = attributes["exitCode"];
  if (typeof exitCode === "string" ? /^-?\d+$/.test(exitCode) : Number.isInteger(exitCode))
    out.exitCode = Number(exitCode);
  return out;
}
