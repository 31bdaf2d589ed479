import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setImmediate as tick } from "node:timers/promises";
import { Semaphore } from "../../src/resilience/limiter.js";

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
