import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OpeningRateLimiter, takeToken, type TokenBucket } from "../../src/resilience/token-bucket.js";

describe("takeToken: the opening rate limit as a pure function", () => {
  const cases: {
    name: string;
    bucket: TokenBucket | undefined;
    perMinute: number;
    now: number;
    granted: boolean;
    tokensAfter: number;
    retryInMs: number;
  }[] = [
    {
      name: "a new bucket is full: the first take is granted",
      bucket: undefined,
      perMinute: 10,
      now: 1_000,
      granted: true,
      tokensAfter: 9,
      retryInMs: 0,
    },
    {
      name: "one token left: granted, none left",
      bucket: { tokens: 1, at: 0 },
      perMinute: 10,
      now: 0,
      granted: true,
      tokensAfter: 0,
      retryInMs: 0,
    },
    {
      name: "empty: refused until one token has refilled (6 s at 10 a minute)",
      bucket: { tokens: 0, at: 0 },
      perMinute: 10,
      now: 0,
      granted: false,
      tokensAfter: 0,
      retryInMs: 6_000,
    },
    {
      name: "half a token refilled: refused, the other half is 3 s away",
      bucket: { tokens: 0, at: 0 },
      perMinute: 10,
      now: 3_000,
      granted: false,
      tokensAfter: 0.5,
      retryInMs: 3_000,
    },
    {
      name: "a whole token refilled: granted",
      bucket: { tokens: 0, at: 0 },
      perMinute: 10,
      now: 6_000,
      granted: true,
      tokensAfter: 0,
      retryInMs: 0,
    },
    {
      name: "refill stops at the burst (a minute's worth)",
      bucket: { tokens: 0, at: 0 },
      perMinute: 10,
      now: 3_600_000,
      granted: true,
      tokensAfter: 9,
      retryInMs: 0,
    },
    {
      name: "a clock that went backwards refills nothing",
      bucket: { tokens: 0.5, at: 10_000 },
      perMinute: 10,
      now: 5_000,
      granted: false,
      tokensAfter: 0.5,
      retryInMs: 3_000,
    },
    {
      name: "0 a minute means no limit",
      bucket: { tokens: 0, at: 0 },
      perMinute: 0,
      now: 0,
      granted: true,
      tokensAfter: 0,
      retryInMs: 0,
    },
    {
      name: "1 a minute, empty: a minute to wait",
      bucket: { tokens: 0, at: 0 },
      perMinute: 1,
      now: 0,
      granted: false,
      tokensAfter: 0,
      retryInMs: 60_000,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = takeToken(c.bucket, c.perMinute, c.now);
      assert.equal(result.granted, c.granted);
      assert.equal(result.retryInMs, c.retryInMs);
      assert.ok(Math.abs(result.bucket.tokens - c.tokensAfter) < 1e-9, `tokens after: ${result.bucket.tokens}`);
      assert.equal(result.bucket.at, c.now);
    });
  }
});

describe("OpeningRateLimiter", () => {
  it("grants a burst of N, then one every 60/N seconds", () => {
    let now = 0;
    const limiter = new OpeningRateLimiter(3, () => now);
    assert.deepEqual(
      [limiter.take(), limiter.take(), limiter.take()].map((t) => t.granted),
      [true, true, true],
    );
    assert.deepEqual(limiter.take(), { granted: false, retryInMs: 20_000 });
    now = 19_999;
    assert.equal(limiter.take().granted, false, "refused takes do not push the next token further away");
    now = 20_000;
    assert.equal(limiter.take().granted, true);
    assert.equal(limiter.take().granted, false);
  });
});
