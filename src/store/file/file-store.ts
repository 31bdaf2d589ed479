import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { parse, stringify } from "yaml";
import { validateResource } from "../../api/load.js";
import { KINDS, type Kind, type Resource, type ResourceOf } from "../../api/resources.js";
import { DEFAULT_NAMESPACE } from "../../api/meta.js";
import { ConflictError, NotFoundError, StewardError, wrapError } from "../../errors.js";
import {
  APPLY_CONFLICT_HINT,
  DEFAULT_RESYNC_PERIOD_MS,
  type ApplyResult,
  type ObjectRef,
  type StatusOf,
  type Store,
  type WatchEvent,
} from "../store.js";
import { sweepLeftovers, withFileLock, writeFileAtomic } from "./atomic.js";
import { ParsedFileCache } from "./parsed-cache.js";
import { DirectoryWatcher } from "./watcher.js";

/** `--state-dir`, else `STEWARD_STATE_DIR`, else `~/.steward`. */

/**
 * The embedded store: one YAML file per object at `<dir>/<plural>/<namespace>/<name>.yaml`.
 * Every write is a locked read-modify-write of that one file, so `apply` (spec) and the
 * controller (status) can run in different processes without clobbering each other.
 * `resourceVersion` is a per-object counter; `uid` tells a re-created object apart.
 */
export class FileStore implements Store {
  private readonly watcher: DirectoryWatcher;
  private readonly parsed = new ParsedFileCache<Resource>();

  constructor(
    readonly dir: string,
    options: { resyncPeriodMs?: number } = {},
  ) {
    this.watcher = new DirectoryWatcher(
      Object.values(KINDS).map((k) => join(dir, k.plural)),
      (path) => this.readPath(path),
      options.resyncPeriodMs ?? DEFAULT_RESYNC_PERIOD_MS,
    );
  }

  /** Also removes what writers killed mid-write left behind (temp files, dead holders' locks). */
  async start(): Promise<void> {
    await Promise.all(
      Object.values(KINDS).map((k) => mkdir(join(this.dir, k.plural, DEFAULT_NAMESPACE), { recursive: true })),
    );
    for (const k of Object.values(KINDS)) {
      const kindDir = join(this.dir, k.plural);
      for (const ns of await listDir(kindDir)) await sweepLeftovers(join(kindDir, ns));
    }
    await this.watcher.start();
  }

  async close(): Promise<void> {
    await this.watcher.close();
  }

  watch(listener: (event: WatchEvent) => void): () => void {
    return this.watcher.subscribe(listener);
  }

  async list<K extends Kind>(kind: K, namespace?: string): Promise<ResourceOf<K>[]> {
    const kindDir = join(this.dir, KINDS[kind].plural);
    const namespaces = namespace ? [namespace] : await listDir(kindDir);
    const objects: ResourceOf<K>[] = [];
    for (const ns of namespaces) {
      for (const file of (await listDir(join(kindDir, ns))).filter(isObjectFile).sort()) {
        const object = await this.readPath(join(kindDir, ns, file));
        if (object?.kind === kind) objects.push(object as ResourceOf<K>);
      }
    }
    return objects;
  }

  async get<K extends Kind>(kind: K, ref: ObjectRef): Promise<ResourceOf<K> | undefined> {
    const object = await this.readPath(this.pathOf(kind, ref));
    return object as ResourceOf<K> | undefined;
  }

  async apply<R extends Resource>(resource: R): Promise<ApplyResult<R>> {
    const path = this.pathOf(resource.kind, resource.metadata);
    await this.ensureDir(resource.kind, resource.metadata.namespace);
    return withFileLock(path, async () => {
      const existing = await readLocked(path);
      checkExpectedVersion(resource, existing);
      if (!existing) {
        const created = initialObject(withoutStatus(resource));
        await writeObject(path, created);
        return { outcome: "created", object: created };
      }
      const specChanged = !isDeepStrictEqual(existing.spec, resource.spec);
      const metaChanged =
        !isDeepStrictEqual(existing.metadata.labels, resource.metadata.labels) ||
        !isDeepStrictEqual(existing.metadata.annotations, resource.metadata.annotations);
      if (!specChanged && !metaChanged) return { outcome: "unchanged", object: existing as R };
      const updated = {
        ...existing,
        metadata: {
          ...existing.metadata,
          labels: resource.metadata.labels,
          annotations: resource.metadata.annotations,
          generation: (existing.metadata.generation ?? 1) + (specChanged ? 1 : 0),
          resourceVersion: nextVersion(existing),
        },
        spec: resource.spec,
      } as R;
      await writeObject(path, updated);
      return { outcome: "configured", object: updated };
    });
  }

  async create<R extends Resource>(resource: R): Promise<R> {
    const path = this.pathOf(resource.kind, resource.metadata);
    await this.ensureDir(resource.kind, resource.metadata.namespace);
    return withFileLock(path, async () => {
      if (await readLocked(path)) {
        throw new StewardError(`${resource.kind} "${resource.metadata.name}" already exists`);
      }
      const created = initialObject(resource);
      await writeObject(path, created);
      return created;
    });
  }

  async updateStatus<K extends Kind>(
    kind: K,
    ref: ObjectRef,
    status: NonNullable<StatusOf<K>>,
    options: { resourceVersion?: string } = {},
  ): Promise<ResourceOf<K>> {
    return this.modify(kind, ref, options.resourceVersion, (object) => ({ ...object, status }));
  }

  async annotate<K extends Kind>(
    kind: K,
    ref: ObjectRef,
    annotations: Record<string, string | undefined>,
  ): Promise<ResourceOf<K>> {
    return this.modify(kind, ref, undefined, (object) => {
      const merged: Record<string, string> = { ...(object.metadata.annotations ?? {}) };
      for (const [key, value] of Object.entries(annotations)) {
        if (value === undefined) delete merged[key];
        else merged[key] = value;
      }
      return { ...object, metadata: { ...object.metadata, annotations: merged } };
    });
  }

  async delete(kind: Kind, ref: ObjectRef): Promise<boolean> {
    const path = this.pathOf(kind, ref);
    return withFileLock(path, async () => {
      if (!(await readLocked(path))) return false;
      await rm(path);
      this.parsed.forget(path);
      return true;
    });
  }

  private async modify<K extends Kind>(
    kind: K,
    ref: ObjectRef,
    expectedVersion: string | undefined,
    change: (object: ResourceOf<K>) => ResourceOf<K>,
  ): Promise<ResourceOf<K>> {
    const path = this.pathOf(kind, ref);
    return withFileLock(path, async () => {
      const existing = (await readLocked(path)) as ResourceOf<K> | undefined;
      if (!existing) throw new NotFoundError(kind, ref.name);
      const current = existing.metadata.resourceVersion ?? "0";
      if (expectedVersion !== undefined && expectedVersion !== current) {
        throw new ConflictError({ kind, name: ref.name }, expectedVersion, current);
      }
      const changed = change(existing);
      const updated = { ...changed, metadata: { ...changed.metadata, resourceVersion: nextVersion(existing) } };
      await writeObject(path, updated);
      return updated;
    });
  }

  private pathOf(kind: Kind, ref: ObjectRef): string {
    return join(this.dir, KINDS[kind].plural, ref.namespace || DEFAULT_NAMESPACE, `${ref.name}.yaml`);
  }

  private async ensureDir(kind: Kind, namespace: string): Promise<void> {
    await mkdir(join(this.dir, KINDS[kind].plural, namespace), { recursive: true });
  }

  /** Reads and validates one object file; a missing file is undefined, a corrupt one an error. */
  private async readPath(path: string): Promise<Resource | undefined> {
    return this.parsed.read(path, (text) => parseStored(path, text));
  }
}

function parseStored(path: string, text: string): Resource {
  const result = validateResource(parse(text));
  if (!result.ok) throw new StewardError(`${path} is not a valid stored object: ${result.problems.join("; ")}`);
  return result.resource;
}

/** The read of a read-modify-write, under the object's lock: always parsed from disk. */
async function readLocked(path: string): Promise<Resource | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw wrapError(`reading ${path}`, err);
  }
  return parseStored(path, text);
}

/**
 * `apply` of a file that carries `metadata.resourceVersion` (say, edited from `steward get
 * -o yaml`) is a compare-and-swap, as with kubectl: it applies only over that version, so a
 * change someone made since the file was read is reported, never silently overwritten.
 */
function checkExpectedVersion(resource: Resource, existing: Resource | undefined): void {
  const expected = resource.metadata.resourceVersion;
  if (expected === undefined) return;
  const actual = existing?.metadata.resourceVersion ?? "none: it was deleted";
  if (expected !== actual)
    throw new ConflictError(
      { kind: resource.kind, name: resource.metadata.name },
      expected,
      actual,
      APPLY_CONFLICT_HINT,
    );
}

function initialObject<R extends Resource>(resource: R): R {
  return {
    ...resource,
    metadata: {
      ...resource.metadata,
      uid: randomUUID(),
      generation: 1,
      resourceVersion: "1",
      creationTimestamp: new Date().toISOString(),
    },
  };
}

/** `apply` never writes status, not even a status given in the applied file. */
function withoutStatus<R extends Resource>(resource: R): R {
  const copy: R & { status?: unknown } = { ...resource };
  delete copy.status;
  return copy;
}

function nextVersion(object: Resource): string {
  return String(Number(object.metadata.resourceVersion ?? "0") + 1);
}

async function writeObject(path: string, object: Resource): Promise<void> {
  await writeFileAtomic(path, stringify(object, { lineWidth: 0 }));
}

function isObjectFile(name: string): boolean {
  return name.endsWith(".yaml") && !name.startsWith(".");
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw wrapError(`listing ${dir}`, err);
  }
}
