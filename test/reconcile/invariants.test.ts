import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvariantSpec, type InvariantStatus } from "../../src/api/desired-state.js";
import type { QueryResult, Sample } from "../../src/observe/types.js";
import {
  evaluateCondition,
  nextEvaluationDelay,
  nextInvariantStatus,
  type Verdict,
} from "../../src/reconcile/invariants.js";

function spec(fields: { condition: string; for?: string; onMissingData?: "unknown" | "violate" }): InvariantSpec {
  return InvariantSpec.parse({ name: "quorum", query: "count(up == 1)", ...fields });
}

function values(...numbers: number[]): QueryResult {
  return { ok: true, samples: numbers.map((value, i): Sample => ({ labels: { instance: `n${i}` }, value })) };
}

const scalar = (value: number): QueryResult => ({ ok: true, samples: [{ labels: {}, value }] });
const EMPTY: QueryResult = { ok: true, samples: [] };
const FAILED: QueryResult = {
  ok: false,
  error: "Prometheus at http://127.0.0.1:9090/api/v1/query: connection refused",
};

void describe("evaluateCondition", () => {
  const cases: {
    name: string;
    condition: string;
    result: QueryResult;
    verdict: Verdict["verdict"];
    onMissingData?: "violate";
  }[] = [
    { name: "== holds", condition: "== 3", result: scalar(3), verdict: "holds" },
    { name: "== violated", condition: "== 3", result: scalar(2), verdict: "violated" },
    { name: "!= holds", condition: "!= 0", result: scalar(1), verdict: "holds" },
    { name: "!= violated", condition: "!= 0", result: scalar(0), verdict: "violated" },
    { name: "> holds", condition: "> 0", result: scalar(0.5), verdict: "holds" },
    { name: "> violated at the boundary", condition: "> 0", result: scalar(0), verdict: "violated" },
    { name: ">= holds at the boundary", condition: ">= 2", result: scalar(2), verdict: "holds" },
    { name: ">= violated", condition: ">= 2", result: scalar(1.99), verdict: "violated" },
    { name: "< holds", condition: "< 0.9", result: scalar(0.1), verdict: "holds" },
    { name: "< violated at the boundary", condition: "< 0.9", result: scalar(0.9), verdict: "violated" },
    { name: "<= holds at the boundary", condition: "<= -1", result: scalar(-1), verdict: "holds" },
    { name: "<= violated", condition: "<= -1", result: scalar(0), verdict: "violated" },
    { name: "NaN never satisfies ==", condition: "== 1", result: scalar(Number.NaN), verdict: "violated" },
    { name: "NaN never satisfies !=", condition: "!= 1", result: scalar(Number.NaN), verdict: "violated" },
    { name: "NaN never satisfies <", condition: "< 1", result: scalar(Number.NaN), verdict: "violated" },
    {
      name: "+Inf satisfies > any number",
      condition: "> 1e300",
      result: scalar(Number.POSITIVE_INFINITY),
      verdict: "holds",
    },
    { name: "+Inf violates <", condition: "< 100", result: scalar(Number.POSITIVE_INFINITY), verdict: "violated" },
    { name: "-Inf satisfies <", condition: "< 0", result: scalar(Number.NEGATIVE_INFINITY), verdict: "holds" },
    { name: "every sample satisfies", condition: "== 1", result: values(1, 1, 1), verdict: "holds" },
    { name: "one failing sample violates", condition: "== 1", result: values(1, 0, 1), verdict: "violated" },
    {
      name: "one NaN sample among good ones violates",
      condition: "> 0",
      result: values(1, Number.NaN),
      verdict: "violated",
    },
    { name: "comparison on no series is unknown", condition: "> 0", result: EMPTY, verdict: "unknown" },
    {
      name: "comparison on no series violates with onMissingData: violate",
      condition: "> 0",
      result: EMPTY,
      verdict: "violated",
      onMissingData: "violate",
    },
    { name: "failed query is unknown", condition: "== 3", result: FAILED, verdict: "unknown" },
    {
      name: "failed query violates with onMissingData: violate",
      condition: "== 3",
      result: FAILED,
      verdict: "violated",
      onMissingData: "violate",
    },
    { name: "empty holds on no series", condition: "empty", result: EMPTY, verdict: "holds" },
    {
      name: "empty holds on no series even with onMissingData: violate",
      condition: "empty",
      result: EMPTY,
      verdict: "holds",
      onMissingData: "violate",
    },
    { name: "empty is violated by a series", condition: "empty", result: values(0), verdict: "violated" },
    { name: "empty on a failed query is unknown", condition: "empty", result: FAILED, verdict: "unknown" },
    {
      name: "empty on a failed query violates with onMissingData: violate",
      condition: "empty",
      result: FAILED,
      verdict: "violated",
      onMissingData: "violate",
    },
    {
      name: "nonEmpty holds on a series, whatever its value",
      condition: "nonEmpty",
      result: values(0),
      verdict: "holds",
    },
    { name: "nonEmpty holds on a scalar", condition: "nonEmpty", result: scalar(Number.NaN), verdict: "holds" },
    { name: "nonEmpty is violated by no series", condition: "nonEmpty", result: EMPTY, verdict: "violated" },
    { name: "nonEmpty on a failed query is unknown", condition: "nonEmpty", result: FAILED, verdict: "unknown" },
  ];
  for (const c of cases) {
    void it(c.name, () => {
      const verdict = evaluateCondition(
        spec({ condition: c.condition, onMissingData: c.onMissingData ?? "unknown" }),
        c.result,
      );
      assert.equal(verdict.verdict, c.verdict, verdict.reason);
    });
  }

  void it("renders one value as the bare number, with Prometheus's spelling of NaN and Inf", () => {
    assert.equal(evaluateCondition(spec({ condition: "== 3" }), scalar(2)).value, "2");
    assert.equal(evaluateCondition(spec({ condition: "== 3" }), scalar(Number.NaN)).value, "NaN");
    assert.equal(evaluateCondition(spec({ condition: "== 3" }), scalar(Number.POSITIVE_INFINITY)).value, "+Inf");
    assert.equal(evaluateCondition(spec({ condition: "== 3" }), scalar(1 / 3)).value, "0.333333");
  });

  void it("renders several series as a count and the first few values", () => {
    assert.equal(evaluateCondition(spec({ condition: "== 1" }), values(1, 1, 0)).value, "3 series: 1, 1, 0");
    assert.equal(
      evaluateCondition(spec({ condition: "== 1" }), values(1, 2, 3, 4, 5, 6, 7)).value,
      "7 series: 1, 2, 3, 4, 5, …",
    );
    assert.equal(evaluateCondition(spec({ condition: "empty" }), EMPTY).value, "no series");
  });

  void it("names the first failing series and the comparison in the reason", () => {
    const verdict = evaluateCondition(spec({ condition: "== 1" }), values(1, 0, Number.NaN));
    assert.equal(verdict.reason, '2 of 3 series do not satisfy == 1 (first: {instance="n1"} = 0)');
  });

  void it("says why a single value fails", () => {
    assert.equal(evaluateCondition(spec({ condition: "== 3" }), scalar(2)).reason, "value 2 does not satisfy == 3");
  });

  void it("reports missing data as such", () => {
    assert.equal(evaluateCondition(spec({ condition: "> 0" }), EMPTY).reason, "the query returned no series");
    assert.equal(evaluateCondition(spec({ condition: "> 0" }), FAILED).reason, FAILED.ok ? "" : FAILED.error);
    assert.match(
      evaluateCondition(spec({ condition: "> 0", onMissingData: "violate" }), FAILED).reason,
      /connection refused.*onMissingData: violate/,
    );
  });
});

void describe("nextInvariantStatus over a sequence of evaluations", () => {
  const t0 = Date.parse("2026-01-01T00:00:00.000Z");
  const at = (seconds: number): Date => new Date(t0 + seconds * 1000);
  const iso = (seconds: number): string => at(seconds).toISOString();
  const HOLDS: Verdict = { verdict: "holds", value: "3", reason: "value 3 satisfies == 3" };
  const VIOLATED: Verdict = { verdict: "violated", value: "2", reason: "value 2 does not satisfy == 3" };
  const UNKNOWN: Verdict = { verdict: "unknown", value: "query failed", reason: "connection refused" };

  /** Feeds verdicts at the given seconds and returns [state, since in seconds] after each. */
  function run(forText: string, steps: [number, Verdict][]): [string, number][] {
    const s = spec({ condition: "== 3", for: forText });
    let status: InvariantStatus | undefined;
    return steps.map(([seconds, verdict]) => {
      status = nextInvariantStatus(status, s, verdict, at(seconds));
      assert.equal(status.lastEvaluationTime, iso(seconds));
      return [status.state, (Date.parse(status.since) - t0) / 1000];
    });
  }

  void it("goes Pending, then Violated exactly when the violation has lasted `for`", () => {
    assert.deepEqual(
      run("30s", [
        [0, HOLDS],
        [10, VIOLATED],
        [25, VIOLATED],
        [39.999, VIOLATED],
        [40, VIOLATED],
        [55, VIOLATED],
      ]),
      [
        ["Holding", 0],
        ["Pending", 10],
        ["Pending", 10],
        ["Pending", 10],
        ["Violated", 10],
        ["Violated", 10],
      ],
    );
  });

  void it("is Violated at once with for: 0s", () => {
    assert.deepEqual(
      run("0s", [
        [5, VIOLATED],
        [6, VIOLATED],
      ]),
      [
        ["Violated", 5],
        ["Violated", 5],
      ],
    );
  });

  void it("resets the window when the condition holds again", () => {
    assert.deepEqual(
      run("30s", [
        [0, VIOLATED],
        [20, HOLDS],
        [30, VIOLATED],
        [50, VIOLATED],
        [60, VIOLATED],
        [70, HOLDS],
      ]),
      [
        ["Pending", 0],
        ["Holding", 20],
        ["Pending", 30],
        ["Pending", 30],
        ["Violated", 30],
        ["Holding", 70],
      ],
    );
  });

  void it("restarts a pending window after an Unknown interrupts it", () => {
    assert.deepEqual(
      run("30s", [
        [0, VIOLATED],
        [20, UNKNOWN],
        [25, UNKNOWN],
        [30, VIOLATED],
        [50, VIOLATED],
        [60, VIOLATED],
      ]),
      [
        ["Pending", 0],
        ["Unknown", 20],
        ["Unknown", 20],
        ["Pending", 30],
        ["Pending", 30],
        ["Violated", 30],
      ],
    );
  });

  void it("keeps `since` while the state is unchanged", () => {
    assert.deepEqual(
      run("1m", [
        [0, HOLDS],
        [15, HOLDS],
        [30, HOLDS],
        [45, UNKNOWN],
        [60, UNKNOWN],
      ]),
      [
        ["Holding", 0],
        ["Holding", 0],
        ["Holding", 0],
        ["Unknown", 45],
        ["Unknown", 45],
      ],
    );
  });

  void it("copies the verdict's value and reason into the status", () => {
    const status = nextInvariantStatus(undefined, spec({ condition: "== 3" }), VIOLATED, at(0));
    assert.deepEqual(status, {
      name: "quorum",
      state: "Violated",
      since: iso(0),
      value: "2",
      reason: "value 2 does not satisfy == 3",
      lastEvaluationTime: iso(0),
    });
  });

  void it("ignores a previous status that belongs to another invariant", () => {
    const other: InvariantStatus = { name: "other", state: "Pending", since: iso(0), lastEvaluationTime: iso(0) };
    const status = nextInvariantStatus(other, spec({ condition: "== 3", for: "30s" }), VIOLATED, at(40));
    assert.equal(status.state, "Pending");
    assert.equal(status.since, iso(40));
  });

  void it("starts afresh when the stored `since` is unreadable", () => {
    const broken: InvariantStatus = {
      name: "quorum",
      state: "Pending",
      since: "yesterday",
      lastEvaluationTime: iso(0),
    };
    const status = nextInvariantStatus(broken, spec({ condition: "== 3", for: "30s" }), VIOLATED, at(40));
    assert.equal(status.state, "Pending");
    assert.equal(status.since, iso(40));
  });
});

void describe("nextEvaluationDelay", () => {
  const s = spec({ condition: "== 3", for: "30s" });
  const base = Date.parse("2026-01-01T00:00:00.000Z");
  const status = (state: InvariantStatus["state"]): InvariantStatus => ({
    name: "quorum",
    state,
    since: new Date(base).toISOString(),
    lastEvaluationTime: new Date(base).toISOString(),
  });

  void it("is the time left in the pending window", () => {
    assert.equal(nextEvaluationDelay(status("Pending"), s, new Date(base + 12_500)), 17_500);
  });

  void it("is zero, not negative, once the window has passed", () => {
    assert.equal(nextEvaluationDelay(status("Pending"), s, new Date(base + 45_000)), 0);
  });

  void it("lands exactly where nextInvariantStatus turns Violated", () => {
    const pending = nextInvariantStatus(undefined, s, { verdict: "violated", value: "2", reason: "" }, new Date(base));
    const delay = nextEvaluationDelay(pending, s, new Date(base + 1000)) ?? Number.NaN;
    const later = new Date(base + 1000 + delay);
    assert.equal(
      nextInvariantStatus(pending, s, { verdict: "violated", value: "2", reason: "" }, later).state,
      "Violated",
    );
    const justBefore = new Date(later.getTime() - 1);
    assert.equal(
      nextInvariantStatus(pending, s, { verdict: "violated", value: "2", reason: "" }, justBefore).state,
      "Pending",
    );
  });

  void it("is undefined in every other state", () => {
    for (const state of ["Holding", "Violated", "Unknown"] as const) {
      assert.equal(nextEvaluationDelay(status(state), s, new Date(base)), undefined);
    }
  });
});
