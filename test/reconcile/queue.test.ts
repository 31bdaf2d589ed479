import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setImmediate as tick } from "node:timers/promises";
import { WorkQueue } from "../../src/reconcile/queue.js";

describe("WorkQueue", () => {
  it("collapses duplicates waiting in the queue into one", async () => {
    const queue = new WorkQueue();
    queue.add("a");
    queue.add("a");
    queue.add("b");
    queue.add("a");
    assert.equal(queue.length, 2);
    assert.equal(await queue.get(), "a");
    assert.equal(await queue.get(), "b");
  });

  it("never hands one key to two workers; a key re-added while processing runs once more after done", async () => {
    const queue = new WorkQueue();
    queue.add("a");
    const first = await queue.get();
    queue.add("a");
    queue.add("a");
    assert.equal(queue.length, 0, "a key being processed is not queued again yet");
    let second: string | undefined;
    void queue.get().then((k) => (second = k));
    // The queue hands keys out synchronously: a key given to this worker would be there after one tick.
    await tick();
    assert.equal(second, undefined);
    queue.done(first ?? "");
    await tick();
    assert.equal(second, "a");
    queue.done("a");
    assert.equal(queue.length, 0, "the two re-adds ran once");
  });

  it("wakes a waiting worker when a key arrives", async () => {
    const queue = new WorkQueue();
    const got = queue.get();
    queue.add("x");
    assert.equal(await got, "x");
  });

  it("addAfter delays the key and the earliest of two delays wins", async () => {
    const queue = new WorkQueue();
    queue.addAfter("k", 200);
    queue.addAfter("k", 20);
    const start = Date.now();
    assert.equal(await queue.get(), "k");
    const waited = Date.now() - start;
    assert.ok(waited >= 15 && waited < 150, `waited ${waited} ms`);
    queue.shutDown();
  });

  it("backs off exponentially per key and forget resets it", () => {
    const queue = new WorkQueue({ baseMs: 100, maxMs: 1_000 });
    const delays = [1, 2, 3, 4, 5, 6].map(() => queue.addRateLimited("k"));
    // Full jitter: each delay anywhere up to the doubling, capped (resilience/backoff.ts).
    delays.forEach((d, i) => {
      const nominal = Math.min(1_000, 100 * 2 ** i);
      assert.ok(d >= 0 && d <= nominal, `attempt ${i}: ${d} vs ${nominal}`);
    });
    assert.equal(queue.numRequeues("k"), 6);
    queue.forget("k");
    assert.equal(queue.numRequeues("k"), 0);
    queue.shutDown();
  });

  it("shutDown releases waiting workers with undefined and drops later adds", async () => {
    const queue = new WorkQueue();
    const waiting = queue.get();
    queue.shutDown();
    assert.equal(await waiting, undefined);
    queue.add("late");
    assert.equal(await queue.get(), undefined);
  });
});
