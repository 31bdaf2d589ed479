import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DesiredState } from "../../src/api/desired-state.js";
import { parseManifestText } from "../../src/api/load.js";
import type { Resource } from "../../src/api/resources.js";
import { ConflictError } from "../../src/errors.js";
import type { Store, WatchEvent } from "../../src/store/store.js";
import { waitFor } from "../../scripts/lib/wait.js";

export function desiredState(name: string, project = "etcd"): DesiredState {
  const text = `apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: ${name}}
spec:
  target: {docker: {project: ${project}}}
  services: [{name: etcd0}]
`;
  const resource = parseManifestText(text, "fixture.yaml").resources[0]?.resource;
  if (resource?.kind !== "DesiredState") throw new Error("fixture did not parse");
  return resource;
}

/** The Docker project a DesiredState targets; undefined for other kinds. */
export function projectOf(resource: Resource | undefined): string | undefined {
  return resource?.kind === "DesiredState" ? resource.spec.target.docker?.project : undefined;
}

export interface StoreHarness {
  /** A store over fresh, empty storage. */
  fresh(options?: { resyncPeriodMs?: number }): Promise<Store>;
  /** A second client of the same storage (another process, in production). */
  peer(store: Store): Promise<Store>;
}

/** The behaviour every Store must have; run against each implementation. */
export function storeContract(name: string, harness: StoreHarness): void {
  describe(`${name}: store contract`, () => {
    it("apply creates, then reports unchanged, then configured; generation follows the spec only", async () => {
      const store = await harness.fresh();
      const created = await store.apply(desiredState("a"));
      assert.equal(created.outcome, "created");
      assert.equal(created.object.metadata.generation, 1);
      assert.ok(created.object.metadata.uid);
      assert.equal((await store.apply(desiredState("a"))).outcome, "unchanged");
      const changed = desiredState("a", "other");
      const configured = await store.apply(changed);
      assert.equal(configured.outcome, "configured");
      assert.equal(configured.object.metadata.generation, 2);
      assert.notEqual(configured.object.metadata.resourceVersion, created.object.metadata.resourceVersion);
      const labelled = desiredState("a", "other");
      labelled.metadata.labels = { team: "sre" };
      const relabelled = await store.apply(labelled);
      assert.equal(relabelled.outcome, "configured");
      assert.equal(relabelled.object.metadata.generation, 2, "a label change is not a spec change");
      await store.close();
    });

    it("apply never clobbers status, and updateStatus never clobbers spec", async () => {
      const store = await harness.fresh();
      await store.apply(desiredState("a"));
      await store.updateStatus(
        "DesiredState",
        { namespace: "default", name: "a" },
        {
          conditions: [],
          drift: [],
          invariants: [],
          fixes: [],
          observedGeneration: 1,
          lastReconcileTime: "2026-01-01T00:00:00.000Z",
        },
      );
      const withStatus = desiredState("a", "changed");
      withStatus.status = { conditions: [], drift: [], invariants: [], fixes: [], observedGeneration: 99 };
      await store.apply(withStatus);
      const stored = await store.get("DesiredState", { namespace: "default", name: "a" });
      assert.equal(stored?.status?.observedGeneration, 1, "status survived apply and was not replaced by the file's");
      assert.equal(stored?.spec.target.docker?.project, "changed");
      await store.close();
    });

    it("updateStatus with a stale resourceVersion is a conflict, not a silent overwrite", async () => {
      const store = await harness.fresh();
      const { object } = await store.apply(desiredState("a"));
      await store.apply(desiredState("a", "moved"));
      await assert.rejects(
        store.updateStatus(
          "DesiredState",
          object.metadata,
          { conditions: [], drift: [], invariants: [], fixes: [] },
          { resourceVersion: object.metadata.resourceVersion ?? "" },
        ),
        ConflictError,
      );
      await store.close();
    });

    it("apply carrying a stale metadata.resourceVersion is a conflict naming the object, and writes nothing", async () => {
      const store = await harness.fresh();
      const { object: read } = await store.apply(desiredState("a"));
      await store.apply(desiredState("a", "someone-else"));
      const edited = desiredState("a", "mine");
      edited.metadata.resourceVersion = read.metadata.resourceVersion;
      await assert.rejects(store.apply(edited), (err: unknown) => {
        assert.ok(err instanceof ConflictError);
        assert.match(err.message, /^DesiredState "a" was modified concurrently .*remove metadata\.resourceVersion/);
        return true;
      });
      const stored = await store.get("DesiredState", { namespace: "default", name: "a" });
      assert.equal(projectOf(stored), "someone-else");
      const current = desiredState("a", "mine");
      current.metadata.resourceVersion = stored?.metadata.resourceVersion;
      assert.equal((await store.apply(current)).outcome, "configured");
      assert.equal(projectOf(await store.get("DesiredState", { namespace: "default", name: "a" })), "mine");
      const gone = desiredState("b");
      gone.metadata.resourceVersion = "7";
      await assert.rejects(
        store.apply(gone),
        /DesiredState "b" was modified concurrently \(resourceVersion none: it was deleted, expected 7\)/,
      );
      assert.equal(await store.get("DesiredState", { namespace: "default", name: "b" }), undefined);
      await store.close();
    });

    it("create refuses an existing name; delete removes and reports absence", async () => {
      const store = await harness.fresh();
      await store.create(desiredState("a"));
      await assert.rejects(store.create(desiredState("a")), /already exists/);
      assert.equal(await store.delete("DesiredState", { namespace: "default", name: "a" }), true);
      assert.equal(await store.delete("DesiredState", { namespace: "default", name: "a" }), false);
      assert.equal(await store.get("DesiredState", { namespace: "default", name: "a" }), undefined);
      await store.close();
    });

    it("watch reports another client's apply, status update and delete within a second", async () => {
      const store = await harness.fresh();
      const events: WatchEvent[] = [];
      store.watch((e) => events.push(e));
      await store.start();
      const peer = await harness.peer(store);
      const started = Date.now();
      await peer.apply(desiredState("w"));
      await waitFor(
        () => events.some((e) => e.type === "ADDED" && e.object.metadata.name === "w"),
        1_000,
        "ADDED event",
      );
      const latency = Date.now() - started;
      await peer.updateStatus(
        "DesiredState",
        { namespace: "default", name: "w" },
        { conditions: [], drift: [], invariants: [], fixes: [], observedGeneration: 1 },
      );
      await waitFor(
        () => events.some((e) => e.type === "MODIFIED" && e.object.metadata.name === "w"),
        1_000,
        "MODIFIED event",
      );
      await peer.delete("DesiredState", { namespace: "default", name: "w" });
      await waitFor(
        () => events.some((e) => e.type === "DELETED" && e.object.metadata.name === "w"),
        1_000,
        "DELETED event",
      );
      console.log(`watch latency for an apply from another client: ${latency} ms`);
      await peer.close();
      await store.close();
    });

    it("re-delivers every object as a SYNC event each resync period, and a change is still a change", async () => {
      const store = await harness.fresh({ resyncPeriodMs: 300 });
      await store.apply(desiredState("r1"));
      await store.apply(desiredState("r2"));
      const events: WatchEvent[] = [];
      store.watch((e) => events.push(e));
      await store.start();
      const synced = (name: string, project: string): boolean =>
        events.some((e) => e.type === "SYNC" && e.object.metadata.name === name && projectOf(e.object) === project);
      await waitFor(() => synced("r1", "etcd") && synced("r2", "etcd"), 10_000, "SYNC events for r1 and r2, unchanged");
      await store.apply(desiredState("r1", "moved"));
      await waitFor(
        () =>
          events.some(
            (e) => e.type === "MODIFIED" && e.object.metadata.name === "r1" && projectOf(e.previous) === "etcd",
          ),
        5_000,
        "a MODIFIED event for the change, with the previous object",
      );
      await waitFor(() => synced("r1", "moved"), 10_000, "the next SYNC carrying the changed object");
      await store.close();
    });

    it("concurrent spec and status writes from two clients lose neither", async () => {
      const store = await harness.fresh();
      const peer = await harness.peer(store);
      await store.apply(desiredState("c"));
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < 15; i++) {
        writes.push(store.apply(desiredState("c", `p${i}`)));
        writes.push(
          peer.updateStatus(
            "DesiredState",
            { namespace: "default", name: "c" },
            { conditions: [], drift: [], invariants: [], fixes: [], observedGeneration: i },
          ),
        );
      }
      await Promise.all(writes);
      await store.apply(desiredState("c", "final"));
      await peer.updateStatus(
        "DesiredState",
        { namespace: "default", name: "c" },
        { conditions: [], drift: [], invariants: [], fixes: [], observedGeneration: 100 },
      );
      const stored = await store.get("DesiredState", { namespace: "default", name: "c" });
      assert.equal(stored?.spec.target.docker?.project, "final");
      assert.equal(stored?.status?.observedGeneration, 100);
      assert.equal(stored?.metadata.generation, 17, "one bump per distinct spec: 15 projects + final");
      await peer.close();
      await store.close();
    });
  });
}
