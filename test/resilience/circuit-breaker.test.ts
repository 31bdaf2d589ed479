import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/telemetry/logging.js";
import { StewardMetrics } from "../../src/telemetry/metrics.js";
import {
  abandon,
  admit,
  CircuitBreaker,
  CLOSED,
  HALF_OPEN_RECHECK_MS,
  record,
  type BreakerState,
  type SessionResult,
} from "../../src/resilience/circuit-breaker.js";

const OPTIONS = { threshold: 3, openForMs: 60_000 };
const FAIL: SessionResult = { type: "failure", cause: "HTTP 529" };
const OK: SessionResult = { type: "success" };

describe("circuit breaker: admit (pure)", () => {
  const cases: {
    name: string;
    state: BreakerState;
    key: string;
    now: number;
    after: BreakerState;
    allowed: boolean;
    probe?: boolean;
    retryInMs?: number;
  }[] = [
    {
      name: "closed: every session starts",
      state: { type: "closed", failures: 2 },
      key: "a",
      now: 0,
      after: { type: "closed", failures: 2 },
      allowed: true,
      probe: false,
    },
    {
      name: "open: no session starts until the period is over",
      state: { type: "open", until: 60_000, cause: "x" },
      key: "a",
      now: 15_000,
      after: { type: "open", until: 60_000, cause: "x" },
      allowed: false,
      retryInMs: 45_000,
    },
    {
      name: "open period over: the first to ask is the probe (half-open)",
      state: { type: "open", until: 60_000, cause: "x" },
      key: "a",
      now: 60_000,
      after: { type: "halfOpen", probe: "a", cause: "x" },
      allowed: true,
      probe: true,
    },
    {
      name: "half-open: the probe may run (again)",
      state: { type: "halfOpen", probe: "a", cause: "x" },
      key: "a",
      now: 61_000,
      after: { type: "halfOpen", probe: "a", cause: "x" },
      allowed: true,
      probe: true,
    },
    {
      name: "half-open: the others wait for the probe",
      state: { type: "halfOpen", probe: "a", cause: "x" },
      key: "b",
      now: 61_000,
      after: { type: "halfOpen", probe: "a", cause: "x" },
      allowed: false,
      retryInMs: HALF_OPEN_RECHECK_MS,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { state, admission } = admit(c.state, c.key, c.now, OPTIONS);
      assert.deepEqual(state, c.after);
      assert.equal(admission.allowed, c.allowed);
      if (admission.allowed) assert.equal(admission.probe, c.probe);
      else assert.equal(admission.retryInMs, c.retryInMs);
    });
  }

  it("the open message names the last failure and an absolute time, so it does not change while waiting", () => {
    const state: BreakerState = {
      type: "open",
      until: Date.parse("2026-11-24T10:00:00Z"),
      cause: "HTTP 529 overloaded",
    };
    const early = admit(state, "a", Date.parse("2026-11-24T09:59:00Z"), OPTIONS).admission;
    const later = admit(state, "a", Date.parse("2026-11-24T09:59:30Z"), OPTIONS).admission;
    assert.ok(!early.allowed && !later.allowed);
    assert.equal(early.message, later.message);
    assert.match(early.message, /HTTP 529 overloaded.*2026-11-24T10:00:00.000Z/);
  });

  it("threshold 0 turns the breaker off", () => {
    assert.equal(
      admit({ type: "open", until: 10, cause: "x" }, "a", 0, { threshold: 0, openForMs: 1 }).admission.allowed,
      true,
    );
    assert.deepEqual(record(CLOSED, { key: "a", result: FAIL }, 0, { threshold: 0, openForMs: 1 }), CLOSED);
  });
});

describe("circuit breaker: record and abandon (pure)", () => {
  const cases: { name: string; state: BreakerState; key: string; result: SessionResult; after: BreakerState }[] = [
    { name: "closed: a failure counts", state: CLOSED, key: "a", result: FAIL, after: { type: "closed", failures: 1 } },
    {
      name: "closed: the threshold-th consecutive failure opens it",
      state: { type: "closed", failures: 2 },
      key: "a",
      result: FAIL,
      after: { type: "open", until: 1_000 + 60_000, cause: "HTTP 529" },
    },
    {
      name: "closed: a success resets the count",
      state: { type: "closed", failures: 2 },
      key: "a",
      result: OK,
      after: CLOSED,
    },
    {
      name: "half-open: the probe's success closes it",
      state: { type: "halfOpen", probe: "a", cause: "x" },
      key: "a",
      result: OK,
      after: CLOSED,
    },
    {
      name: "half-open: the probe's failure opens it again",
      state: { type: "halfOpen", probe: "a", cause: "x" },
      key: "a",
      result: FAIL,
      after: { type: "open", until: 61_000, cause: "HTTP 529" },
    },
    {
      name: "half-open: another session's result changes nothing",
      state: { type: "halfOpen", probe: "a", cause: "x" },
      key: "b",
      result: OK,
      after: { type: "halfOpen", probe: "a", cause: "x" },
    },
    {
      name: "open: results of sessions admitted before change nothing",
      state: { type: "open", until: 5_000, cause: "x" },
      key: "a",
      result: OK,
      after: { type: "open", until: 5_000, cause: "x" },
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(record(c.state, { key: c.key, result: c.result }, 1_000, OPTIONS), c.after));
  }

  it("an abandoned probe (shutdown, lost lease) lets the next session probe at once", () => {
    const after = abandon({ type: "halfOpen", probe: "a", cause: "x" }, "a", 7_000);
    assert.deepEqual(after, { type: "open", until: 7_000, cause: "x" });
    assert.deepEqual(admit(after, "b", 7_000, OPTIONS).state, { type: "halfOpen", probe: "b", cause: "x" });
    assert.deepEqual(abandon({ type: "halfOpen", probe: "a", cause: "x" }, "b", 7_000), {
      type: "halfOpen",
      probe: "a",
      cause: "x",
    });
    assert.deepEqual(abandon({ type: "closed", failures: 1 }, "a", 7_000), { type: "closed", failures: 1 });
  });
});

describe("CircuitBreaker: transitions in the metrics", () => {
  async function sample(metrics: StewardMetrics, name: string, labels = ""): Promise<number | undefined> {
    const text = await metrics.registry.metrics();
    const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `));
    return line === undefined ? undefined : Number(line.split(" ")[1]);
  }

  it("closed → open → half-open → closed, each visible on /metrics (zero-initialised)", async () => {
    let now = 0;
    const metrics = new StewardMetrics();
    const breaker = new CircuitBreaker(
      { threshold: 2, openForMs: 10_000 },
      { metrics, logger: silentLogger(), now: () => now },
    );
    assert.equal(await sample(metrics, "steward_agent_circuit_state", '{state="closed"}'), 1);
    assert.equal(await sample(metrics, "steward_agent_circuit_state", '{state="open"}'), 0);
    assert.equal(await sample(metrics, "steward_agent_circuit_opened_total"), 0);
    breaker.record("a", FAIL);
    breaker.record("b", FAIL);
    assert.equal(await sample(metrics, "steward_agent_circuit_state", '{state="open"}'), 1);
    assert.equal(await sample(metrics, "steward_agent_circuit_state", '{state="closed"}'), 0);
    assert.equal(await sample(metrics, "steward_agent_circuit_opened_total"), 1);
    assert.equal(breaker.openFor(), 10_000);
    assert.equal(breaker.admit("c").allowed, false);
    now = 10_000;
    assert.deepEqual(breaker.admit("c"), { allowed: true, probe: true });
    assert.equal(await sample(metrics, "steward_agent_circuit_state", '{state="half_open"}'), 1);
    assert.equal(breaker.admit("a").allowed, false);
    breaker.record("c", OK);
    assert.equal(await sample(metrics, "steward_agent_circuit_state", '{state="closed"}'), 1);
    assert.equal(await sample(metrics, "steward_agent_circuit_state", '{state="half_open"}'), 0);
    assert.equal(breaker.admit("a").allowed, true);
    assert.equal(await sample(metrics, "steward_agent_circuit_opened_total"), 1);
  });
});
