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

  async save(namespace: string, name: string, state: SessionState): Promise<void> {
    const path = this.statePath(namespace, name);
    await mkdir(dirname(path), { recursive: true });
    await writeFileAtomic(path, JSON.stringify(state));
  }
}

/** `YYYY-MM-DDTHH-MM-SS-<8 hex>`, the seed's session id format. */
export function newSessionId(now: Date): string {
  return `${now.toISOString().slice(0, 19).replace(/:/g, "-")}-${randomBytes(4).toString("hex")}`;
}
