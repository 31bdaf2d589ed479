import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { waitFor } from "../../scripts/lib/wait.js";
import { QueryEvaluator } from "../../src/observe/query-evaluator.js";
import type { PrometheusClient, QueryResult } from "../../src/observe/types.js";

/** Answers every query with the value `values[expr]` (default 1) and counts the requests per query. */
class ScriptedPrometheus implements PrometheusClient {
  readonly requests = new Map<string, number>();
  readonly values = new Map<string, number>();
  delayMs = 0;

  async query(expr: string): Promise<QueryResult> {
    this.requests.set(expr, (this.requests.get(expr) ?? 0) + 1);
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    return { ok: true, samples: [{ labels: {}, value: this.values.get(expr) ?? 1 }] };
  }

  count(expr: string): number {
    return this.requests.get(expr) ?? 0;
  }
}

function evaluatorFor(prometheus: ScriptedPrometheus): { evaluator: QueryEvaluator; changes: string[][] } {
  const changes: string[][] = [];
  const evaluator = new QueryEvaluator({ client: prometheus, onChange: (owners) => changes.push([...owners]) });
  return { evaluator, changes };
}

describe("QueryEvaluator: each distinct query once per interval, owners told only of changes", () => {
  it("100 owners of one query: one request per slot, and reads between slots send none", async () => {
    const prometheus = new ScriptedPrometheus();
    const { evaluator } = evaluatorFor(prometheus);
    try {
      for (let i = 0; i < 100; i++) evaluator.register(`ds-${i}`, [{ expr: "up", intervalMs: 1_000 }]);
      assert.deepEqual(evaluator.size, { queries: 1, slots: 1 });
      const reads = await Promise.all(Array.from({ length: 100 }, () => evaluator.query("up")));
      assert.equal(prometheus.count("up"), 1, "100 concurrent first reads share one request");
      assert.ok(reads.every((r) => r.ok && r.samples[0]?.value === 1));
      await waitFor(() => prometheus.count("up") >= 3, 5_000, "two slots to pass");
      const before = prometheus.count("up");
      for (let i = 0; i < 100; i++) await evaluator.query("up");
      assert.equal(prometheus.count("up"), before, "reads within the interval use the slot's result");
    } finally {
      evaluator.close();
    }
  });

  it("a changed result tells every owner of that query, and only them; an unchanged one tells no one", async () => {
    const prometheus = new ScriptedPrometheus();
    const { evaluator, changes } = evaluatorFor(prometheus);
    try {
      evaluator.register("a", [{ expr: "up", intervalMs: 1_000 }]);
      evaluator.register("b", [{ expr: "up", intervalMs: 1_000 }]);
      evaluator.register("c", [{ expr: "other", intervalMs: 1_000 }]);
      await evaluator.query("up");
      await evaluator.query("other");
      await waitFor(() => prometheus.count("up") >= 2 && prometheus.count("other") >= 2, 5_000, "a slot each");
      assert.equal(changes.length, 0, "the same answer again is no change");
      prometheus.values.set("up", 0);
      await waitFor(() => changes.length > 0, 5_000, "the change to be reported");
      assert.deepEqual(changes[0], ["a", "b"]);
      const told = new Set(changes.flatMap((owners) => owners));
      assert.ok(!told.has("c"), "the owner of an unchanged query is not told");
    } finally {
      evaluator.close();
    }
  });

  it("a fresh read asks Prometheus now; concurrent fresh reads share the request", async () => {
    const prometheus = new ScriptedPrometheus();
    prometheus.delayMs = 50;
    const { evaluator } = evaluatorFor(prometheus);
    try {
      evaluator.register("a", [{ expr: "up", intervalMs: 60_000 }]);
      await evaluator.query("up");
      assert.equal(prometheus.count("up"), 1);
      await evaluator.query("up");
      assert.equal(prometheus.count("up"), 1, "within the interval: the cached result");
      prometheus.values.set("up", 7);
      const [x, y] = await Promise.all([
        evaluator.query("up", undefined, { fresh: true }),
        evaluator.query("up", undefined, { fresh: true }),
      ]);
      assert.equal(prometheus.count("up"), 2, "two fresh reads at once: one request");
      assert.ok(x.ok && x.samples[0]?.value === 7 && y.ok && y.samples[0]?.value === 7);
    } finally {
      evaluator.close();
    }
  });

  it("a query shared at two intervals runs at the shorter; the last owner gone stops its timer and reads go to Prometheus", async () => {
    const prometheus = new ScriptedPrometheus();
    const { evaluator } = evaluatorFor(prometheus);
    try {
      evaluator.register("slow", [{ expr: "up", intervalMs: 60_000 }]);
      evaluator.register("fast", [{ expr: "up", intervalMs: 1_000 }]);
      await waitFor(() => prometheus.count("up") >= 2, 5_000, "a 1 s slot to run");
      evaluator.unregister("fast");
      evaluator.unregister("slow");
      assert.deepEqual(evaluator.size, { queries: 0, slots: 0 });
      const before = prometheus.count("up");
      await evaluator.query("up");
      await evaluator.query("up");
      assert.equal(prometheus.count("up"), before + 2, "an unregistered query is not cached");
    } finally {
      evaluator.close();
    }
  });

  it("re-registering the same queries changes nothing; different ones replace the owner's old ones", () => {
    const prometheus = new ScriptedPrometheus();
    const { evaluator } = evaluatorFor(prometheus);
    try {
      evaluator.register("a", [{ expr: "x", intervalMs: 15_000 }]);
      evaluator.register("a", [{ expr: "x", intervalMs: 15_000 }]);
      assert.deepEqual(evaluator.size, { queries: 1, slots: 1 });
      evaluator.register("a", [{ expr: "y", intervalMs: 15_000 }]);
      assert.equal(evaluator.size.queries, 1, "x is dropped with its last owner");
      evaluator.register("a", []);
      assert.deepEqual(evaluator.size, { queries: 0, slots: 0 });
    } finally {
      evaluator.close();
    }
  });
});
