import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  bucketDelta,
  histogramQuantile,
  linearFit,
  metricValue,
  parseHistogram,
  percentile,
  ratio,
  summarize,
} from "../../bench/lib/stats.js";
import { cpuPercent, parseStat, parseStatus } from "../../bench/lib/proc.js";
import { requestsPerMinute, resourceOf } from "../../bench/lib/counting-proxy.js";

describe("bench statistics", () => {
  it("takes nearest-rank percentiles: every value reported is one that was measured", () => {
    const samples = [5, 1, 4, 2, 3];
    assert.equal(percentile(samples, 50), 3);
    assert.equal(percentile(samples, 90), 5);
    assert.equal(percentile(samples, 100), 5);
    assert.equal(percentile([7], 99), 7);
    assert.equal(percentile([1, 2, 3, 4], 50), 2);
  });

  it("reports NaN for no samples and refuses a percentile outside (0, 100]", () => {
    assert.ok(Number.isNaN(percentile([], 50)));
    assert.throws(() => percentile([1], 0), RangeError);
    const empty = summarize([]);
    assert.equal(empty.n, 0);
    assert.ok(Number.isNaN(empty.p50));
  });

  it("summarizes without NaN samples and never invents a ratio", () => {
    const s = summarize([10, Number.NaN, 30, 20]);
    assert.deepEqual([s.n, s.p50, s.min, s.max, s.mean], [3, 20, 10, 30, 20]);
    assert.equal(ratio(200, 100), 2);
    assert.ok(Number.isNaN(ratio(1, 0)));
    assert.ok(Number.isNaN(ratio(Number.NaN, 1)));
  });

  it("estimates a quantile from histogram buckets as histogram_quantile does", () => {
    const buckets = [
      { le: 0.01, count: 50 },
      { le: 0.1, count: 100 },
      { le: Number.POSITIVE_INFINITY, count: 100 },
    ];
    assert.equal(histogramQuantile(0.5, buckets), 0.01);
    assert.ok(Math.abs(histogramQuantile(0.75, buckets) - 0.055) < 1e-9);
    assert.ok(Number.isNaN(histogramQuantile(0.5, [{ le: 1, count: 0 }])));
  });

  it("reads histograms and values from a Prometheus text exposition, and subtracts two scrapes", () => {
    const text = [
      'steward_reconcile_duration_seconds_bucket{le="0.005"} 3',
      'steward_reconcile_duration_seconds_bucket{le="+Inf"} 4',
      "steward_reconcile_duration_seconds_count 4",
      'steward_reconcile_total{result="success"} 9',
    ].join("\n");
    const buckets = parseHistogram(text, "steward_reconcile_duration_seconds");
    assert.deepEqual(buckets, [
      { le: 0.005, count: 3 },
      { le: Number.POSITIVE_INFINITY, count: 4 },
    ]);
    assert.equal(metricValue(text, "steward_reconcile_duration_seconds_count"), 4);
    assert.equal(metricValue(text, "steward_reconcile_total", 'result="success"'), 9);
    assert.ok(Number.isNaN(metricValue(text, "missing")));
    const labelled = [
      'steward_reconcile_duration_seconds_bucket{le="0.005",controller="desiredstate"} 3',
      'steward_reconcile_duration_seconds_bucket{le="+Inf",controller="desiredstate"} 4',
      'steward_reconcile_duration_seconds_bucket{le="0.005",controller="remediation"} 0',
      'steward_reconcile_duration_seconds_bucket{le="+Inf",controller="remediation"} 7',
    ].join("\n");
    assert.deepEqual(parseHistogram(labelled, "steward_reconcile_duration_seconds", 'controller="desiredstate"'), [
      { le: 0.005, count: 3 },
      { le: Number.POSITIVE_INFINITY, count: 4 },
    ]);
    assert.deepEqual(bucketDelta(buckets, [{ le: 0.005, count: 1 }]), [
      { le: 0.005, count: 2 },
      { le: Number.POSITIVE_INFINITY, count: 4 },
    ]);
  });
});

describe("bench /proc parsing", () => {
  it("reads user+system ticks even when the command name has spaces and parentheses", () => {
    const stat = "1234 (node (x) y) S 1 2 3 4 5 6 7 8 9 10 150 50 0 0 20 0 1 0";
    assert.equal(parseStat(stat).cpuSeconds, 2);
  });

  it("reads resident and peak resident memory in MB", () => {
    assert.deepEqual(parseStatus("Name:\tnode\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n"), {
      rssMB: 100,
      peakRssMB: 200,
    });
  });

  it("turns two samples into percent of one core", () => {
    assert.equal(
      cpuPercent(
        { cpuSeconds: 1, rssMB: 0, peakRssMB: 0, at: 0 },
        { cpuSeconds: 1.5, rssMB: 0, peakRssMB: 0, at: 10_000 },
      ),
      5,
    );
  });
});

describe("the counting proxy's request descriptions", () => {
  it("names the Kubernetes resource a path addresses, and keeps other paths whole", () => {
    assert.equal(resourceOf("/apis/coordination.k8s.io/v1/namespaces/ns/leases/steward"), "leases");
    assert.equal(resourceOf("/apis/steward.dev/v1alpha1/namespaces/ns/desiredstates/a/status"), "desiredstates/status");
    assert.equal(resourceOf("/apis/steward.dev/v1alpha1/desiredstates"), "desiredstates");
    assert.equal(resourceOf("/api/v1/namespaces/ns/events"), "events");
    assert.equal(resourceOf("/api/v1/query"), "query");
  });

  it("counts requests per minute by verb (WATCH for watches) and resource", () => {
    const at = 0;
    const counted = requestsPerMinute(
      [
        { at, method: "GET", path: "/apis/steward.dev/v1alpha1/namespaces/ns/desiredstates", watch: true },
        { at, method: "PUT", path: "/apis/coordination.k8s.io/v1/namespaces/ns/leases/s", watch: false },
        { at, method: "PUT", path: "/apis/coordination.k8s.io/v1/namespaces/ns/leases/s", watch: false },
      ],
      30_000,
    );
    assert.deepEqual(counted, { "WATCH desiredstates": 2, "PUT leases": 4 });
  });
});

describe("linear fit", () => {
  it("fits a line by least squares and refuses to fit a single x", () => {
    const fit = linearFit([
      { x: 100, y: 1.1 },
      { x: 1000, y: 2.0 },
      { x: 2000, y: 3.0 },
    ]);
    assert.ok(Math.abs(fit.slope - 0.001) < 0.0001, String(fit.slope));
    assert.ok(Math.abs(fit.intercept - 1.0) < 0.05, String(fit.intercept));
    assert.ok(Number.isNaN(linearFit([{ x: 1, y: 1 }]).slope));
    assert.ok(
      Number.isNaN(
        linearFit([
          { x: 1, y: 1 },
          { x: 1, y: 2 },
        ]).slope,
      ),
    );
  });
});
