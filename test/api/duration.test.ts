import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { durationAtMost, formatDuration, parseDuration } from "../../src/api/duration.js";

describe("parseDuration", () => {
  const cases: [string, number | undefined][] = [
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h30m", 5_400_000],
    ["250ms", 250],
    ["1m30s", 90_000],
    ["2d", 172_800_000],
    ["0s", 0],
    ["soon", undefined],
    ["", undefined],
    ["30", undefined],
    ["5 m", undefined],
    ["-5s", undefined],
    ["30m1h", undefined],
    ["1" + "0".repeat(30) + "ms", undefined],
  ];
  for (const [text, expected] of cases) {
    it(`${JSON.stringify(text)} → ${String(expected)}`, () => assert.equal(parseDuration(text), expected));
  }
});

describe("formatDuration", () => {
  const cases: [number, string][] = [
    [0, "0s"],
    [45_000, "45s"],
    [192_000, "3m12s"],
    [180_000, "3m"],
    [7_500_000, "2h5m"],
    [3 * 86_400_000, "3d"],
  ];
  for (const [ms, expected] of cases) it(`${ms} ms → ${expected}`, () => assert.equal(formatDuration(ms), expected));
});

describe("durationAtMost (an invariant's for: at most 24h)", () => {
  const cases: [string, string | undefined][] = [
    ["30s", undefined],
    ["24h", undefined],
    ["1d", undefined],
    ["1440m", undefined],
    ["86400000ms", undefined],
    ["1d1ms", 'expected at most 24h, got "1d1ms"'],
    ["25h", 'expected at most 24h, got "25h"'],
    ["2d", 'expected at most 24h, got "2d"'],
    ["soon", 'expected a duration like "30s", got "soon"'],
  ];
  const schema = durationAtMost("24h");
  for (const [text, message] of cases) {
    it(`${JSON.stringify(text)}: ${message ?? "accepted"}`, () => {
      const result = schema.safeParse(text);
      assert.equal(result.success ? undefined : result.error.issues[0]?.message, message);
    });
  }
});
