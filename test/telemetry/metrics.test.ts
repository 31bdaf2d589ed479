import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StewardMetrics } from "../../src/telemetry/metrics.js";

async function exposition(metrics: StewardMetrics): Promise<string> {
  return metrics.registry.metrics();
}

/** The value of one sample, labels exactly as printed; undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

describe("StewardMetrics", () => {
  it("process and Node metrics are steward_process_* and steward_nodejs_*, never steward_process_process_*", async () => {
    const text = await exposition(new StewardMetrics());
    assert.doesNotMatch(text, /steward_process_process_|steward_process_nodejs_/);
    assert.match(text, /^steward_process_cpu_user_seconds_total /m);
    assert.match(text, /^steward_process_resident_memory_bytes /m);
    assert.match(text, /^steward_nodejs_heap_size_used_bytes /m);
  });

  it("reconcile and queue series carry the controller label, one per controller, from zero", async () => {
    const text = await exposition(new StewardMetrics());
    for (const controller of ["desiredstate", "remediation"]) {
      assert.equal(sample(text, `steward_reconcile_total{controller="${controller}",result="success"}`), 0);
      assert.equal(sample(text, `steward_reconcile_errors_total{controller="${controller}"}`), 0);
      assert.equal(sample(text, `steward_workqueue_adds_total{controller="${controller}"}`), 0);
      assert.equal(sample(text, `steward_workqueue_retries_total{controller="${controller}"}`), 0);
    }
  });

  it("queue depth and longest-running reconcile are read from the queue at each scrape", async () => {
    const metrics = new StewardMetrics();
    let depth = 3;
    metrics.watchQueue("desiredstate", { depth: () => depth, longestRunningSeconds: () => 1.5 });
    let text = await exposition(metrics);
    assert.equal(sample(text, 'steward_workqueue_depth{controller="desiredstate"}'), 3);
    assert.equal(sample(text, 'steward_workqueue_longest_running_processor_seconds{controller="desiredstate"}'), 1.5);
    depth = 0;
    text = await exposition(metrics);
    assert.equal(sample(text, 'steward_workqueue_depth{controller="desiredstate"}'), 0);
  });

  it("queue hooks count adds and retries and observe waits per controller", async () => {
    const metrics = new StewardMetrics();
    const hooks = metrics.queueHooks("remediation");
    hooks.added();
    hooks.added();
    hooks.retried();
    hooks.waited(0.2);
    const text = await exposition(metrics);
    assert.equal(sample(text, 'steward_workqueue_adds_total{controller="remediation"}'), 2);
    assert.equal(sample(text, 'steward_workqueue_retries_total{controller="remediation"}'), 1);
    assert.equal(sample(text, 'steward_workqueue_queue_duration_seconds_count{controller="remediation"}'), 1);
    assert.equal(sample(text, 'steward_workqueue_adds_total{controller="desiredstate"}'), 0);
  });

  it("agent session durations have buckets up to an hour", async () => {
    const metrics = new StewardMetrics();
    metrics.agentSessionDuration.observe({ outcome: "resolved" }, 1_700);
    const text = await exposition(metrics);
    assert.equal(sample(text, 'steward_agent_session_duration_seconds_bucket{le="1200",outcome="resolved"}'), 0);
    assert.equal(sample(text, 'steward_agent_session_duration_seconds_bucket{le="1800",outcome="resolved"}'), 1);
    assert.match(text, /steward_agent_session_duration_seconds_bucket\{le="3600",outcome="resolved"\} 1/);
  });

  it("the oldest wait for approval, in seconds, and 0 once nothing waits", async () => {
    const metrics = new StewardMetrics();
    assert.equal(sample(await exposition(metrics), "steward_remediation_awaiting_approval_oldest_seconds"), 0);
    metrics.setAwaitingApproval("ns/a", Date.now() - 600_000);
    metrics.setAwaitingApproval("ns/b", Date.now() - 60_000);
    const waited = sample(await exposition(metrics), "steward_remediation_awaiting_approval_oldest_seconds") ?? 0;
    assert.ok(waited >= 600 && waited < 610, `${waited}`);
    metrics.setAwaitingApproval("ns/a", undefined);
    metrics.setAwaitingApproval("ns/b", undefined);
    assert.equal(sample(await exposition(metrics), "steward_remediation_awaiting_approval_oldest_seconds"), 0);
  });
});
