/**
 * The soak's fault injector: every few seconds one random fault on the etcd compose
 * project, each undone later by the injector itself where Steward cannot (unpause, SIGCONT,
 * re-create a removed member). It counts what it did, and every container start it caused
 * itself, so the soak can tell Steward's Docker actions from its own.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { compose, containerState } from "./cluster.js";

const run = promisify(execFile);

export const MEMBERS = ["etcd0", "etcd1", "etcd2"] as const;
export type FaultKind =
  "stop" | "kill" | "pause" | "rm" | "sigstop" | "prometheus-stop" | "prometheus-pause" | "concurrent-apply";
const KINDS: readonly FaultKind[] = [
  "stop",
  "kill",
  "pause",
  "rm",
  "sigstop",
  "prometheus-stop",
  "prometheus-pause",
  "concurrent-apply",
];

export interface FaultRecord {
  at: string;
  kind: FaultKind;
  target: string;
  ok: boolean;
  detail?: string;
}

interface Restore {
  at: number;
  target: string;
  undo: () => Promise<void>;
}

async function docker(...args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const { stdout } = await run("docker", args, { timeout: 60_000 });
    return { ok: true, out: stdout.trim() };
  } catch (err) {
    return { ok: false, out: err instanceof Error ? (err.message.split("\n")[0] ?? "") : String(err) };
  }
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;
const between = (min: number, max: number): number => min + Math.random() * (max - min);

export class FaultInjector {
  readonly faults: FaultRecord[] = [];
  /** Container starts the injector caused (re-creating a removed member), by container name. */
  readonly ownStarts = new Map<string, number>();
  private readonly restores: Restore[] = [];
  /** Containers with a fault not yet undone: no second fault on them meanwhile. */
  private readonly busy = new Set<string>();

  constructor(private readonly applyConcurrently: () => Promise<{ ok: boolean; detail: string }>) {}

  /** One random fault, and any undo that is due. */
  async tick(now: number): Promise<void> {
    await this.runDueRestores(now);
    const kind = pick(KINDS);
    if (kind === "concurrent-apply") {
      const result = await this.applyConcurrently();
      return this.record(kind, "desiredstate/etcd", result.ok, result.detail);
    }
    const target = kind.startsWith("prometheus") ? "prometheus" : pick(MEMBERS.filter((m) => !this.busy.has(m)));
    if (target === undefined || this.busy.has(target)) return;
    await this.inject(kind, target, now);
  }

  private async inject(kind: FaultKind, target: string, now: number): Promise<void> {
    switch (kind) {
      case "stop":
      case "prometheus-stop":
        return this.record(kind, target, (await docker("stop", "-t", "2", target)).ok);
      case "kill":
        return this.record(kind, target, (await docker("kill", target)).ok);
      case "pause":
      case "prometheus-pause": {
        const done = await docker("pause", target);
        if (done.ok)
          this.later(now + between(5_000, 15_000), target, async () => void (await docker("unpause", target)));
        return this.record(kind, target, done.ok, done.ok ? undefined : done.out);
      }
      case "sigstop": {
        const done = await docker("kill", "--signal", "STOP", target);
        // Steward may restart it meanwhile (unhealthy): then SIGCONT finds a new process, which is fine.
        if (done.ok)
          this.later(
            now + between(5_000, 15_000),
            target,
            async () => void (await docker("kill", "--signal", "CONT", target)),
          );
        return this.record(kind, target, done.ok, done.ok ? undefined : done.out);
      }
      case "rm": {
        const done = await docker("rm", "-f", target);
        if (done.ok) this.later(now + between(10_000, 20_000), target, () => this.recreate(target));
        return this.record(kind, target, done.ok, done.ok ? undefined : done.out);
      }
      default:
        return undefined;
    }
  }

  /** Steward cannot create containers: compose re-creates a removed member (one start, ours). */
  private async recreate(target: string): Promise<void> {
    if ((await containerState(target)) !== "missing") return;
    await compose("up", "-d", "--no-recreate", target);
    if ((await containerState(target)) !== "missing") this.ownStarts.set(target, (this.ownStarts.get(target) ?? 0) + 1);
  }

  private later(at: number, target: string, undo: () => Promise<void>): void {
    this.busy.add(target);
    this.restores.push({ at, target, undo });
  }

  async runDueRestores(now: number): Promise<void> {
    for (const restore of this.restores.filter((r) => r.at <= now)) {
      this.restores.splice(this.restores.indexOf(restore), 1);
      await restore.undo();
      this.busy.delete(restore.target);
    }
  }

  /** Undoes every pending fault now (the end of the soak). */
  async restoreAll(): Promise<void> {
    await this.runDueRestores(Number.POSITIVE_INFINITY);
  }

  private record(kind: FaultKind, target: string, ok: boolean, detail?: string): void {
    this.faults.push({ at: new Date().toISOString(), kind, target, ok, ...(detail ? { detail } : {}) });
  }
}
