import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setImmediate as tick, setTimeout as delay } from "node:timers/promises";
import { mapBounded, Semaphore } from "../../src/resilience/limiter.js";

void describe("Semaphore", () => {
  void it("grants up to `limit` slots at once and queues the rest", async () => {
    const sem = new Semaphore(2);
    await sem.acquire();
    await sem.acquire();
    let third = false;
    void sem.acquire().then(() => (third = true));
    await tick();
    assert.equal(third, false);
    assert.equal(sem.inFlight, 2);
    assert.equal(sem.waiting, 1);
  });

  void it("hands released slots to waiters in FIFO order", async () => {
    const sem = new Semaphore(1);
    const first = await sem.acquire();
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) =>
      sem.acquire().then((release) => {
        order.push(n);
        release();
      }),
    );
    first();
    await Promise.all(waiters);
    assert.deepEqual(order, [1, 2, 3]);
    assert.equal(sem.inFlight, 0);
  });

  void it("does not let a newcomer take a slot that was handed to a waiter", async () => {
    const sem = new Semaphore(1);
    const first = await sem.acquire();
    const queued = sem.acquire();
    first();
    // The newcomer arrives after the release but before the waiter's continuation runs.
    let newcomerGranted = false;
    void sem.acquire().then(() => (newcomerGranted = true));
    const releaseQueued = await queued;
    await tick();
    assert.equal(newcomerGranted, false);
    assert.equal(sem.inFlight, 1);
    releaseQueued();
    await tick();
    assert.equal(newcomerGranted, true);
  });

  void it("ignores a second call of the same release function", async () => {
    const sem = new Semaphore(1);
    const release = await sem.acquire();
    release();
    release();
    assert.equal(sem.inFlight, 0);
    await sem.acquire();
    let second = false;
    void sem.acquire().then(() => (second = true));
    await tick();
    assert.equal(second, false, "a double release must not free two slots");
  });

  void it("removes an aborted waiter from the queue without taking a slot", async () => {
    const sem = new Semaphore(1);
    const first = await sem.acquire();
    const controller = new AbortController();
    const aborted = sem.acquire(controller.signal);
    const later = sem.acquire();
    controller.abort(new Error("caller gave up"));
    await assert.rejects(aborted, /caller gave up/);
    assert.equal(sem.waiting, 1);
    first();
    const release = await later;
    assert.equal(sem.inFlight, 1);
    release();
    assert.equal(sem.inFlight, 0);
  });

  void it("rejects at once when the signal is already aborted", async () => {
    const sem = new Semaphore(1);
    await assert.rejects(sem.acquire(AbortSignal.abort(new Error("too late"))), /too late/);
    assert.equal(sem.inFlight, 0);
  });

  void it("run() releases the slot when the task throws", async () => {
    const sem = new Semaphore(1);
    await assert.rejects(
      sem.run(() => Promise.reject(new Error("boom"))),
      /boom/,
    );
    assert.equal(sem.inFlight, 0);
    assert.equal(await sem.run(() => Promise.resolve(42)), 42);
  });

  void it("never exceeds the limit under many concurrent tasks", async () => {
    const sem = new Semaphore(3);
    let current = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        sem.run(async () => {
          current++;
          peak = Math.max(peak, current);
          await tick();
          current--;
        }),
      ),
    );
    assert.equal(peak, 3);
    assert.equal(sem.inFlight, 0);
  });

  void it("refuses a limit that is not a positive integer", () => {
    for (const limit of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => new Semaphore(limit), RangeError);
    }
  });
});

void describe("Semaphore.tryAcquire: a slot now or nothing, for callers that must not wait", () => {
  void it("takes a free slot, refuses when all are held, and a released slot can be taken again", () => {
    const sem = new Semaphore(1);
    const release = sem.tryAcquire();
    assert.ok(release);
    assert.equal(sem.tryAcquire(), undefined);
    assert.equal(sem.waiting, 0, "a refused caller does not queue");
    release();
    assert.ok(sem.tryAcquire());
  });

  void it("never takes a slot promised to a waiter", async () => {
    const sem = new Semaphore(1);
    const release = await sem.acquire();
    let granted = false;
    void sem.acquire().then(() => (granted = true));
    release();
    assert.equal(sem.tryAcquire(), undefined, "the slot passed to the waiter");
    await tick();
    assert.equal(granted, true);
  });
});

void describe("mapBounded", () => {
  void it("keeps order and never exceeds the limit", async () => {
    let inFlight = 0;
    let peak = 0;
    const result = await mapBounded([5, 1, 4, 2, 3, 0, 6, 2, 1], 3, async (n) => {
      peak = Math.max(peak, ++inFlight);
      await delay(n);
      inFlight--;
      return n * 10;
    });
    assert.deepEqual(result, [50, 10, 40, 20, 30, 0, 60, 20, 10]);
    assert.equal(peak, 3);
  });

  void it("starts nothing new after a failure and rejects with it", async () => {
    const started: number[] = [];
    await assert.rejects(
      mapBounded([1, 2, 3, 4, 5, 6], 2, async (n) => {
        started.push(n);
        await delay(1);
        if (n === 2) throw new Error("boom");
        return n;
      }),
      /boom/,
    );
    assert.ok(started.length <= 3, `started ${started.join(",")}`);
  });

  void it("handles an empty list", async () => {
    assert.deepEqual(await mapBounded([], 8, () => Promise.resolve(1)), []);
  });
});
