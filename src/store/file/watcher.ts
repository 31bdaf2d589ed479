import { watch, type FSWatcher } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Resource } from "../../api/resources.js";
import type { WatchEvent } from "../store.js";

/** Catches any change inotify missed (an overflowed queue, a directory made after start). */
const RESCAN_INTERVAL_MS = 30_000;
const DEBOUNCE_MS = 10;

interface Known {
  uid: string | undefined;
  resourceVersion: string | undefined;
  object: Resource;
  /** The file as stat saw it just before it was read: a rescan reads it again only when this changed. */
  identity: string | undefined;
}

/**
 * Turns file changes under the kind directories (`<kind>/<namespace>/<name>.yaml`) into
 * watch events. inotify says only that something changed, so the watcher re-reads the
 * file and compares uid and resourceVersion with what it saw last; a periodic full rescan
 * covers events the kernel dropped. The rescan stats every file and reads only those whose
 * (inode, size, mtime, ctime) moved since they were last read: reading all of them made the
 * rescan most of an idle Steward's CPU (bench, 1,000 DesiredStates). Separately, every
 * `resyncPeriodMs` it re-reads everything and re-delivers every object as a SYNC event, as
 * the Kubernetes store's informers do.
 */
export class DirectoryWatcher {
  private readonly known = new Map<string, Known>();
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly listeners = new Set<(event: WatchEvent) => void>();
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private rescanTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly kindDirs: readonly string[],
    private readonly read: (path: string) => Promise<Resource | undefined>,
    /** 0 disables the resync. */
    private readonly resyncPeriodMs: number,
  ) {}

  async start(): Promise<void> {
    await this.rescanAll();
    this.rescanTimer = setInterval(() => void this.rescanAll(), RESCAN_INTERVAL_MS);
    this.rescanTimer.unref();
    if (this.resyncPeriodMs > 0) {
      this.resyncTimer = setInterval(() => void this.resync(), this.resyncPeriodMs);
      this.resyncTimer.unref();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.rescanTimer);
    clearInterval(this.resyncTimer);
    for (const timer of this.pending.values()) clearTimeout(timer);
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    await Promise.resolve();
  }

  subscribe(listener: (event: WatchEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** After a full re-read, so the SYNC events carry what is on disk now. */
  private async resync(): Promise<void> {
    await this.rescanAll({ reread: true });
    for (const { object } of [...this.known.values()]) this.emit({ type: "SYNC", object });
  }

  private async rescanAll(options: { reread?: boolean } = {}): Promise<void> {
    for (const kindDir of this.kindDirs) {
      this.watchDir(kindDir);
      for (const namespace of await listNames(kindDir)) {
        this.watchDir(join(kindDir, namespace));
        await this.rescanDir(join(kindDir, namespace), options);
      }
    }
  }

  private watchDir(dir: string): void {
    if (this.closed || this.watchers.has(dir)) return;
    try {
      const watcher = watch(dir, { persistent: true }, (_type, filename) => this.schedule(dir, filename));
      watcher.on("error", () => {
        watcher.close();
        this.watchers.delete(dir);
      });
      this.watchers.set(dir, watcher);
    } catch {
      // The directory does not exist yet; the next rescan watches it once it does.
    }
  }

  /**
   * inotify names the file that changed: re-read that one file, not the whole directory (a
   * rescan per write made each write cost a parse of every object). Our own temp and lock
   * files are ignored; an event without a name, or in a kind directory (a new namespace),
   * rescans as before.
   */
  private schedule(dir: string, filename?: string | null): void {
    if (this.closed) return;
    const kindDir = this.kindDirs.includes(dir);
    if (!kindDir && filename && !isObjectFileName(filename)) return;
    const target = !kindDir && filename ? join(dir, filename) : dir;
    if (this.pending.has(target)) return;
    this.pending.set(
      target,
      setTimeout(() => {
        this.pending.delete(target);
        void (kindDir ? this.rescanAll() : target === dir ? this.rescanDir(dir) : this.refresh(target));
      }, DEBOUNCE_MS),
    );
  }

  private async rescanDir(dir: string, options: { reread?: boolean } = {}): Promise<void> {
    const names = (await listNames(dir)).filter(isObjectFileName);
    const present = new Set(names.map((n) => join(dir, n)));
    for (const path of present) {
      const known = this.known.get(path);
      if (!options.reread && known?.identity !== undefined && known.identity === (await identityOf(path))) continue;
      await this.refresh(path);
    }
    for (const [path, known] of this.known) {
      if (path.startsWith(`${dir}/`) && !present.has(path)) {
        this.known.delete(path);
        this.emit({ type: "DELETED", object: known.object });
      }
    }
  }

  private async refresh(path: string): Promise<void> {
    // Before the read: a write in between leaves an older identity, so the next rescan reads again.
    const identity = await identityOf(path);
    let object: Resource | undefined;
    try {
      object = await this.read(path);
    } catch {
      // A corrupt file is reported by `list`/`get`, which the user sees; the watcher keeps
      // the last good version so the controller does not act on a half-understood object.
      return;
    }
    const before = this.known.get(path);
    if (object) this.changed(path, object, before, identity);
    else if (before) {
      this.known.delete(path);
      this.emit({ type: "DELETED", object: before.object });
    }
  }

  /** The file at `path` holds `object`: an event when it is new, re-created or modified. */
  private changed(path: string, object: Resource, before: Known | undefined, identity: string | undefined): void {
    const { uid, resourceVersion } = object.metadata;
    if (before && before.uid === uid && before.resourceVersion === resourceVersion) {
      before.identity = identity;
      return;
    }
    this.known.set(path, { uid, resourceVersion, object, identity });
    if (before && before.uid !== uid) this.emit({ type: "DELETED", object: before.object });
    const sameObject = before !== undefined && before.uid === uid;
    this.emit(sameObject ? { type: "MODIFIED", object, previous: before.object } : { type: "ADDED", object });
  }

  private emit(event: WatchEvent): void {
    if (this.closed) return;
    for (const listener of this.listeners) listener(event);
  }
}

/**
 * Which file is at `path` now, as far as stat can tell; undefined when it cannot say. Only
 * to skip re-reading in a rescan: inotify, not this, is how a change is normally seen.
 */
async function identityOf(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch {
    return undefined;
  }
}

async function listNames(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/** `<name>.yaml`; not the store's `.<name>.yaml.*.tmp` temp files nor its `<name>.yaml.lock` lock files. */
function isObjectFileName(name: string): boolean {
  return name.endsWith(".yaml") && !name.startsWith(".");
}
