/**
 * What the soak watches while it runs: Docker's events for the etcd project (starts and
 * restarts per container), Steward's RSS, and the remediations in its state dir, checked
 * for two open at once on one fingerprint at every change.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import type { AgentRemediation } from "../../src/api/remediation.js";
import { FileStore } from "../../src/store/file/file-store.js";
import { duplicateOpen, type ActionCounts, type RssSample } from "./soak-checks.js";

export class DockerEventCounter {
  readonly counts = new Map<string, ActionCounts>();
  readonly actions = new Map<string, number>();
  private child: ChildProcess | undefined;

  start(project: string): void {
    const child = spawn(
      "docker",
      [
        "events",
        "--format",
        "{{json .}}",
        "--filter",
        "type=container",
        "--filter",
        `label=com.docker.compose.project=${project}`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    this.child = child;
    let buffered = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) this.count(line);
    });
  }

  private count(line: string): void {
    let event: { Action?: string; Actor?: { Attributes?: { name?: string } } };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      return;
    }
    const action = (event.Action ?? "").split(":")[0] ?? "";
    if (action.startsWith("exec_")) return;
    this.actions.set(action, (this.actions.get(action) ?? 0) + 1);
    const name = event.Actor?.Attributes?.name;
    if (!name || (action !== "start" && action !== "restart")) return;
    const counts = this.counts.get(name) ?? { start: 0, restart: 0 };
    counts[action] += 1;
    this.counts.set(name, counts);
  }

  stop(): void {
    this.child?.kill("SIGTERM");
  }
}

/** The V8 heap in use, from Steward's own /metrics (prom-client's default metrics). */
async function heapUsedMB(metricsUrl: string): Promise<number | undefined> {
  try {
    const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(2_000) })).text();
    const line = text.split("\n").find((l) => l.startsWith("steward_nodejs_heap_size_used_bytes "));
    return line ? Number(line.split(" ")[1]) / 2 ** 20 : undefined;
  } catch {
    return undefined;
  }
}

/** Steward's RSS (from /proc) and V8 heap in use (from its /metrics), every `everyMs`. */
export class RssSampler {
  readonly samples: RssSample[] = [];
  private timer: NodeJS.Timeout | undefined;

  start(pid: number, metricsUrl: string, everyMs: number): void {
    const started = Date.now();
    this.timer = setInterval(() => {
      void Promise.all([readFile(`/proc/${pid}/status`, "utf8").catch(() => ""), heapUsedMB(metricsUrl)]).then(
        ([status, heap]) => {
          const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
          if (Number.isFinite(kb))
            this.samples.push({
              t: (Date.now() - started) / 1000,
              rssMB: kb / 1024,
              ...(heap === undefined ? {} : { heapUsedMB: heap }),
            });
        },
      );
    }, everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * Watches the remediations as Steward writes them. A change that shows two open on one
 * fingerprint is confirmed by two full reads of the state dir in a row (the watcher may
 * deliver one file's change before an earlier change of another), and only then counted.
 */
export class DuplicateWatch {
  readonly violations: { at: string; duplicates: string[] }[] = [];
  events = 0;
  private readonly seen = new Map<string, AgentRemediation>();
  private readonly store: FileStore;
  private confirming = false;

  constructor(stateDir: string) {
    this.store = new FileStore(stateDir);
  }

  async start(): Promise<void> {
    this.store.watch((event) => {
      if (event.object.kind !== "AgentRemediation") return;
      this.events++;
      if (event.type === "DELETED") this.seen.delete(event.object.metadata.name);
      else this.seen.set(event.object.metadata.name, event.object);
      if (duplicateOpen([...this.seen.values()]).length > 0) void this.confirm();
    });
    await this.store.start();
  }

  private async confirm(): Promise<void> {
    if (this.confirming) return;
    this.confirming = true;
    try {
      const first = duplicateOpen(await this.store.list("AgentRemediation"));
      const second = duplicateOpen(await this.store.list("AgentRemediation"));
      const both = first.filter((d) => second.includes(d));
      if (both.length > 0) this.violations.push({ at: new Date().toISOString(), duplicates: both });
    } finally {
      this.confirming = false;
    }
  }

  async list(): Promise<AgentRemediation[]> {
    return this.store.list("AgentRemediation");
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}
