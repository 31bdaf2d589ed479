import { randomBytes } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { StewardError } from "../errors.js";
import { writeFileAtomic } from "../store/file/atomic.js";
import type { SessionState } from "./session.js";

/**
 * Where an agent session's conversation and audit trail live, beside the resources:
 * `<state-dir>/sessions/<ns>/<name>.json` (rewritten atomically after every step) and
 * `<state-dir>/audit/<ns>/<name>.jsonl` (append-only).
 */
export class SessionFiles {
  /** Per conversation file: the last save asked for, and a save asked for but not yet begun. */
  private readonly saves = new Map<string, { last: Promise<void>; next?: Promise<void>; state?: SessionState }>();

  constructor(private readonly stateDir: string) {}

  auditPath(namespace: string, name: string): string {
    return join(this.stateDir, "audit", namespace, `${name}.jsonl`);
  }

  private statePath(namespace: string, name: string): string {
    return join(this.stateDir, "sessions", namespace, `${name}.json`);
  }

  async load(namespace: string, name: string): Promise<SessionState | undefined> {
    const path = this.statePath(namespace, name);
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new StewardError(`reading session ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      return JSON.parse(text) as SessionState;
    } catch (err) {
      throw new StewardError(`session file ${path} is corrupt; delete it to restart the session from scratch`, {
        cause: err,
      });
    }
  }

  /**
   * Writes the conversation atomically; resolves once it is on disk. Saves of one file run
   * one after another, so an older state never lands over a newer one, and saves asked for
   * while one runs coalesce into a single next write of the newest state: a caller may go
   * on without waiting for a save it does not depend on, and wait for a later one.
   */
  save(namespace: string, name: string, state: SessionState): Promise<void> {
    const path = this.statePath(namespace, name);
    const slot = this.saves.get(path) ?? { last: Promise.resolve() };
    this.saves.set(path, slot);
    slot.state = state;
    if (slot.next) return slot.next;
    const next = slot.last
      .catch(() => undefined)
      .then(() => {
        slot.next = undefined;
        return this.write(path, slot.state ?? state);
      });
    slot.next = next;
    slot.last = next;
    next.then(
      () => this.forget(path, slot, next),
      () => this.forget(path, slot, next),
    );
    return next;
  }

  private forget(path: string, slot: { last: Promise<void> }, write: Promise<void>): void {
    if (slot.last === write && this.saves.get(path) === slot) this.saves.delete(path);
  }

  private async write(path: string, state: SessionState): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    await writeFileAtomic(path, JSON.stringify(state));
  }
}

/** `YYYY-MM-DDTHH-MM-SS-<8 hex>`, the seed's session id format. */
export function newSessionId(now: Date): string {
  return `${now.toISOString().slice(0, 19).replace(/:/g, "-")}-${randomBytes(4).toString("hex")}`;
}
