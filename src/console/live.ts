import { unwatchFile, watchFile, type Stats } from "node:fs";
import type { Store } from "../store/store.js";

/**
 * What makes an open page stale: any change in the store (the watch's ADDED, MODIFIED and
 * DELETED, not its periodic SYNC), and, for a remediation page, an append to that
 * remediation's audit trail, which the agent writes between status updates (model text
 * first of all). Listeners are told only that something changed; the page fetches itself
 * again, so what it shows is always read fresh.
 */
export class ChangeFeed {
  private readonly listeners = new Set<() => void>();
  private readonly auditWatchers = new Map<
    string,
    { listeners: Set<() => void>; onChange: (a: Stats, b: Stats) => void }
  >();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly store: Store,
    /** How often an audit file is checked; fs.watchFile polls, which also works before the file exists. */
    private readonly auditPollMs = 250,
  ) {}

  start(): void {
    this.unsubscribe ??= this.store.watch((event) => {
      if (event.type === "SYNC") return;
      for (const listener of [...this.listeners]) listener();
    });
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.listeners.clear();
    for (const [path, watcher] of this.auditWatchers) unwatchFile(path, watcher.onChange);
    this.auditWatchers.clear();
  }

  /** Calls `listener` on every change, and on appends to `auditPath` when given; returns the unsubscribe. */
  subscribe(listener: () => void, auditPath?: string): () => void {
    this.listeners.add(listener);
    if (auditPath !== undefined) this.watchAudit(auditPath, listener);
    return () => {
      this.listeners.delete(listener);
      if (auditPath !== undefined) this.unwatchAudit(auditPath, listener);
    };
  }

  private watchAudit(path: string, listener: () => void): void {
    let watcher = this.auditWatchers.get(path);
    if (!watcher) {
      const listeners = new Set<() => void>();
      const onChange = (now: Stats, before: Stats): void => {
        if (now.size === before.size && now.mtimeMs === before.mtimeMs) return;
        for (const l of [...listeners]) l();
      };
      watcher = { listeners, onChange };
      this.auditWatchers.set(path, watcher);
      watchFile(path, { interval: this.auditPollMs, persistent: false }, onChange);
    }
    watcher.listeners.add(listener);
  }

  private unwatchAudit(path: string, listener: () => void): void {
    const watcher = this.auditWatchers.get(path);
    if (!watcher) return;
    watcher.listeners.delete(listener);
    if (watcher.listeners.size > 0) return;
    unwatchFile(path, watcher.onChange);
    this.auditWatchers.delete(path);
  }
}
