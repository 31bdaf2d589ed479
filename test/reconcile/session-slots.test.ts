import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SessionSlots } from "../../src/reconcile/session-slots.js";

describe("SessionSlots: at most N sessions, and a waiting remediation is woken when one frees", () => {
  it("a key that finds every slot taken waits, and is woken (once) when a slot frees", () => {
    const woken: string[] = [];
    const slots = new SessionSlots(1, (key) => woken.push(key));
    const first = slots.tryTake("a");
    assert.ok(first);
    assert.equal(slots.tryTake("b"), undefined);
    assert.equal(slots.tryTake("c"), undefined);
    assert.deepEqual(woken, []);
    first();
    first();
    assert.deepEqual(woken, ["b"], "the longest waiting, once, however often release is called");
    assert.equal(slots.inUse, 0);
  });

  it("a woken key that no longer needs a session passes the wake on", () => {
    const woken: string[] = [];
    const slots = new SessionSlots(1, (key) => woken.push(key));
    const first = slots.tryTake("a");
    slots.tryTake("b");
    slots.tryTake("c");
    first?.();
    assert.deepEqual(woken, ["b"]);
    slots.settled("b"); // b's reconcile ended without taking a slot (its remediation closed)
    assert.deepEqual(woken, ["b", "c"]);
  });

  it("a woken key that took its slot wakes no one when its reconcile ends", () => {
    const woken: string[] = [];
    const slots = new SessionSlots(1, (key) => woken.push(key));
    const a = slots.tryTake("a");
    slots.tryTake("b");
    slots.tryTake("c");
    a?.();
    assert.ok(slots.tryTake("b"), "b takes the freed slot");
    slots.settled("b");
    assert.deepEqual(woken, ["b"]);
    assert.equal(slots.inUse, 1);
  });

  it("a newcomer may take a free slot; a waiting key is woken by the next release", () => {
    const woken: string[] = [];
    const slots = new SessionSlots(2, (key) => woken.push(key));
    const a = slots.tryTake("a");
    const b = slots.tryTake("b");
    assert.equal(slots.tryTake("c"), undefined);
    a?.();
    assert.deepEqual(woken, ["c"]);
    assert.ok(slots.tryTake("d"), "d took the slot before c's reconcile ran");
    assert.equal(slots.tryTake("c"), undefined, "c waits again");
    b?.();
    assert.deepEqual(woken, ["c", "c"]);
  });
});
