import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { CoalescingRunner } from "../../src/observe/docker/coalesce.js";
import { withDeadline } from "../../src/resilience/deadline.js";

void describe("withDeadline", () => {
  void it("returns the call's result", async () => {
    assert.equal(await withDeadline("step", 1_000, () => Promise.resolve(7)), 7);
  });

  void it("rejects at the deadline with the step named, even when the call ignores its signal", async () => {
    const started = Date.now();
    await assert.rejects(
      withDeadline("inspect x", 50, () => new Promise(() => undefined)),
      /^StewardError: inspect x: no answer within 50 ms$/,
    );
    assert.ok(Date.now() - started < 1_000);
  });

  void it("aborts the signal it gave the call", async () => {
    let seen: AbortSignal | undefined;
    await assert.rejects(
      withDeadline("s", 20, (signal) => {
        seen = signal;
        return new Promise(() => undefined);
      }),
    );
    assert.equal(seen?.aborted, true);
  });

  void it("rejects when the parent aborts, with the parent's reason", async () => {
    const parent = new AbortController();
    const pending = withDeadline("list containers", 10_000, () => new Promise(() => undefined), parent.signal);
    parent.abort(new Error("stream lost"));
    await assert.rejects(pending, /^StewardError: list containers: stream lost$/);
    await assert.rejects(
      withDeadline("again", 10_000, () => Promise.resolve(1), parent.signal),
      /again: stream lost/,
    );
  });

  void it("wraps the call's own error with the step and keeps it as cause", async () => {
    const cause = Object.assign(new Error("(HTTP code 404) no such container"), { statusCode: 404 });
    await assert.rejects(
      withDeadline("inspect y", 1_000, () => Promise.reject(cause)),
      (err: Error) => {
        assert.equal(err.message, "inspect y: (HTTP code 404) no such container");
        assert.equal(err.cause, cause);
        return true;
      },
    );
  });
});

void describe("CoalescingRunner", () => {
  void it("never runs a key twice at once and collapses requests during a run into one more run", async () => {
    let running = 0;
    let runs = 0;
    let overlap = false;
    let release: () => void = () => undefined;
    const firstHeld = new Promise<void>((resolve) => (release = resolve));
    const runner = new CoalescingRunner(
      async () => {
        overlap ||= ++running > 1;
        runs++;
        if (runs === 1) await firstHeld;
        running--;
      },
      () => undefined,
    );
    const scope = new AbortController().signal;
    runner.request("a", scope);
    assert.equal(running, 1, "the first run started");
    for (let i = 0; i < 5; i++) runner.request("a", scope);
    release();
    await runner.idle();
    assert.equal(overlap, false);
    assert.equal(runs, 2);
  });

  void it("runs different keys concurrently", async () => {
    let running = 0;
    let peak = 0;
    const runner = new CoalescingRunner(
      async () => {
        peak = Math.max(peak, ++running);
        await delay(10);
        running--;
      },
      () => undefined,
    );
    const scope = new AbortController().signal;
    runner.request("a", scope);
    runner.request("b", scope);
    await runner.idle();
    assert.equal(peak, 2);
  });

  void it("does not piggyback on a run whose scope was aborted: a new scope gets its own run", async () => {
    const seen: boolean[] = [];
    const runner = new CoalescingRunner(
      async (_key, scope) => {
        await delay(10);
        seen.push(scope.aborted);
      },
      () => undefined,
    );
    const old = new AbortController();
    runner.request("a", old.signal);
    old.abort();
    runner.request("a", new AbortController().signal);
    await runner.idle();
    assert.deepEqual(seen.sort(), [false, true]);
  });

  void it("hands an escaped error to onError and keeps serving the key", async () => {
    const errors: string[] = [];
    let calls = 0;
    const runner = new CoalescingRunner(
      () => {
        calls++;
        return calls === 1 ? Promise.reject(new Error("first fails")) : Promise.resolve();
      },
      (key, err) => errors.push(`${key}: ${(err as Error).message}`),
    );
    const scope = new AbortController().signal;
    runner.request("a", scope);
    await runner.idle();
    runner.request("a", scope);
    await runner.idle();
    assert.deepEqual(errors, ["a: first fails"]);
    assert.equal(calls, 2);
  });
});
