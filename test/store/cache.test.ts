import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { waitFor } from "../../scripts/lib/wait.js";
import { CachedStore } from "../../src/store/cache.js";
import type { WatchEvent } from "../../src/store/store.js";
import { FileStore } from "../../src/store/file/file-store.js";
import { desiredState, projectOf } from "./contract.js";

const EMPTY_STATUS = { conditions: [], drift: [], invariants: [], fixes: [] };

describe("CachedStore: reads from memory, fed by the watch and by its own writes", () => {
  let cache: CachedStore | undefined;
  afterEach(async () => {
    await cache?.close();
    cache = undefined;
  });

  async function fresh(): Promise<{ cache: CachedStore; inner: FileStore; peer: FileStore }> {
    const dir = await mkdtemp(join(tmpdir(), "steward-cache-"));
    const inner = new FileStore(dir);
    await inner.apply(desiredState("before-start"));
    cache = new CachedStore(inner);
    await cache.start();
    return { cache, inner, peer: new FileStore(dir) };
  }

  it("holds what existed at start, as the initial list delivered it", async () => {
    const { cache } = await fresh();
    assert.equal(
      (await cache.get("DesiredState", { namespace: "default", name: "before-start" }))?.metadata.name,
      "before-start",
    );
    assert.deepEqual(
      (await cache.list("DesiredState", "default")).map((d) => d.metadata.name),
      ["before-start"],
    );
    assert.deepEqual(await cache.list("AgentRemediation", "default"), []);
  });

  it("reads its own writes at once, before any watch event", async () => {
    const { cache } = await fresh();
    await cache.apply(desiredState("mine", "p1"));
    const written = await cache.updateStatus(
      "DesiredState",
      { namespace: "default", name: "mine" },
      { ...EMPTY_STATUS, lastReconcileTime: "2026-01-01T00:00:00.000Z" },
    );
    const read = await cache.get("DesiredState", { namespace: "default", name: "mine" });
    assert.equal(read?.metadata.resourceVersion, written.metadata.resourceVersion);
    assert.equal(read?.status?.lastReconcileTime, "2026-01-01T00:00:00.000Z");
  });

  it("sees another process's writes once their watch event arrives, and their deletes", async () => {
    const { cache, peer } = await fresh();
    await peer.apply(desiredState("theirs", "p2"));
    await waitFor(
      async () => projectOf(await cache.get("DesiredState", { namespace: "default", name: "theirs" })) === "p2",
      5_000,
      "the peer's object in the cache",
    );
    await peer.delete("DesiredState", { namespace: "default", name: "theirs" });
    await waitFor(
      async () => (await cache.get("DesiredState", { namespace: "default", name: "theirs" })) === undefined,
      5_000,
      "the delete in the cache",
    );
  });

  it("never rolls back past its own write when an older version's event arrives late", async () => {
    const { cache, inner } = await fresh();
    const ref = { namespace: "default", name: "before-start" };
    const old = await inner.get("DesiredState", ref);
    assert.ok(old);
    await cache.updateStatus("DesiredState", ref, EMPTY_STATUS);
    // What the inner store's watcher delivers for the version before our write, arriving after it.
    (cache as unknown as { observe(event: WatchEvent): void }).observe({ type: "MODIFIED", object: old });
    assert.notEqual((await cache.get("DesiredState", ref))?.metadata.resourceVersion, old.metadata.resourceVersion);
  });

  it("hands out frozen objects: a caller cannot change the cache by accident", async () => {
    const { cache } = await fresh();
    const read = await cache.get("DesiredState", { namespace: "default", name: "before-start" });
    assert.ok(read && Object.isFrozen(read) && Object.isFrozen(read.spec.services));
    assert.throws(() => {
      (read.metadata as { name: string }).name = "changed";
    }, TypeError);
  });
});
