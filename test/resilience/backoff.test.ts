import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoffDelay, jittered, parseRetryAfter } from "../../src/resilience/backoff.js";

void describe("backoffDelay: full jitter over a capped exponential, never sooner than Retry-After", () => {
  const backoff = { baseMs: 100, maxMs: 1_000 };
  const cases: [attempt: number, random: number, expected: number][] = [
    [0, 1, 100], // the most the first retry waits
    [1, 1, 200],
    [3, 1, 800],
    [4, 1, 1_000], // capped
    [3, 0.5, 400], // anywhere below the doubling
    [5, 0, 0], // full jitter goes down to nothing
    [60, 0.5, 500], // no overflow after a long outage
    [5_000, 0.999, 999], // nor after a very long one
  ];
  for (const [attempt, random, expected] of cases) {
    void it(`retry ${attempt} with random ${random} waits ${expected} ms`, () => {
      assert.equal(backoffDelay(attempt, backoff, { random: () => random }), expected);
    });
  }

  void it("a server's Retry-After is a floor", () => {
    assert.equal(backoffDelay(0, backoff, { retryAfterMs: 700, random: () => 0.1 }), 700);
    assert.equal(backoffDelay(3, backoff, { retryAfterMs: 300, random: () => 1 }), 800, "a longer backoff wins");
  });

  void it("minMs is a floor under the jitter", () => {
    assert.equal(backoffDelay(0, { ...backoff, minMs: 60 }, { random: () => 0 }), 60);
    assert.equal(backoffDelay(2, { ...backoff, minMs: 60 }, { random: () => 0.5 }), 200);
  });

  void it("the cap bounds even a Retry-After: a loop never goes longer without looking", () => {
    assert.equal(backoffDelay(0, backoff, { retryAfterMs: 120_000, random: () => 0 }), 1_000);
  });

  void it("spreads clients that failed together over the whole window (not around its middle)", () => {
    const delays = Array.from({ length: 2_000 }, () => backoffDelay(3, backoff));
    assert.ok(Math.min(...delays) < 80, `min ${Math.min(...delays)}`);
    assert.ok(Math.max(...delays) > 720, `max ${Math.max(...delays)}`);
    assert.ok(delays.every((d) => d >= 0 && d <= 800));
  });
});

void describe("jittered: a period stretched by up to a factor of itself", () => {
  void it("client-go's 1.2: between one and 2.2 periods", () => {
    assert.equal(
      jittered(2_000, 1.2, () => 0),
      2_000,
    );
    assert.equal(
      jittered(2_000, 1.2, () => 1),
      4_400,
    );
    assert.equal(
      jittered(2_000, 1.2, () => 0.5),
      3_200,
    );
  });
});

void describe("parseRetryAfter", () => {
  const now = Date.parse("2026-11-25T10:00:00Z");
  const cases: [value: string | string[] | undefined, expected: number | undefined][] = [
    ["1", 1_000],
    [" 120 ", 120_000],
    ["0.5", 500],
    [["3", "9"], 3_000],
    ["Wed, 25 Nov 2026 10:00:30 GMT", 30_000],
    ["Wed, 25 Nov 2026 09:59:00 GMT", undefined], // in the past
    ["0", undefined],
    ["-5", undefined],
    ["soon", undefined],
    ["", undefined],
    [undefined, undefined],
  ];
  for (const [value, expected] of cases) {
    void it(`${JSON.stringify(value)} → ${expected}`, () => {
      assert.equal(parseRetryAfter(value, now), expected);
    });
  }
});
