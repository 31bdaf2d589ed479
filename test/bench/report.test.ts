import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AgentPathResult } from "../../bench/scenarios/agent-path.js";
import {
  checkAllTargets,
  checkTargets,
  type TargetCheck,
  objectRequestsPerMinute,
  recoveryRatios,
  renderMarkdown,
  renderTable,
  type BenchReport,
} from "../../bench/lib/report.js";
import { escapeXml, niceScale, renderChart, renderPanels } from "../../bench/lib/svg.js";
import { summarize } from "../../bench/lib/stats.js";
import type { FaultResult } from "../../bench/scenarios/faults.js";
import type { ScaleResult } from "../../bench/scenarios/scale.js";

function fault(scenario: string, actor: string, recover: number[], overrides: Partial<FaultResult> = {}): FaultResult {
  return {
    scenario,
    fault: "f",
    actor,
    runs: recover.length,
    detectMs: summarize([]),
    recoverMs: summarize(recover),
    path: "simple fix",
    agentSteps: 0,
    tokens: 0,
    costUSD: 0,
    outcome: "ok",
    ...overrides,
  };
}

function scaleRow(overrides: Partial<ScaleResult> = {}): ScaleResult {
  return {
    store: "file",
    containers: 500,
    desiredStates: 100,
    invariants: 1000,
    coldStartMs: 2000,
    coldStartPromQueries: 1,
    throughputPerSecond: 50,
    steadyWindowSeconds: 30,
    reconcilesPerSecond: 6.7,
    reconcileP50Ms: 3,
    reconcileP99Ms: 20,
    cpuPercentOfOneCore: 0.8,
    cpuSeconds: 0.45,
    rssMB: 120,
    peakRssMB: 150,
    prometheusQueriesPerSecond: 66.7,
    detectionMs: summarize([60, 70, 80]),
    recoveryMs: summarize([200, 210, 220]),
    ...overrides,
  };
}

const FAULTS = [
  fault("stopped member", "bare docker start", [100, 110, 120]),
  fault("stopped member", "Steward", [130, 150, 170]),
  fault("crashed member", "Steward", [200]),
  fault("crashed member", "Docker restart: always", [400]),
];

describe("the bench report", () => {
  it("computes ratios from p50s of the same run, leaving out what was not measured", () => {
    const ratios = Object.fromEntries(recoveryRatios(FAULTS).map((r) => [r.name, r.value]));
    assert.equal(ratios["stopped member: Steward / bare docker start"], 150 / 110);
    assert.equal(ratios["crashed member: Steward / Docker restart: always"], 0.5);
    assert.equal(ratios["crashed member: Steward / 1 s poller"], undefined);
  });

  it("judges each target, and says 'not run' rather than guessing", () => {
    const checks = checkTargets(FAULTS, [
      scaleRow(),
      scaleRow({ desiredStates: 1000, cpuPercentOfOneCore: 9, detectionMs: summarize([150]) }),
    ]);
    const byTarget = (prefix: string): (boolean | undefined)[] =>
      checks.filter((c) => c.target.startsWith(prefix)).map((c) => c.met);
    assert.deepEqual(byTarget("stopped member"), [true]);
    assert.deepEqual(
      byTarget("container death"),
      [false],
      "the 1,000-DesiredState row is the one judged: its p50 is 150 ms",
    );
    assert.deepEqual(byTarget("steady state"), [true, false]);
    assert.deepEqual(
      checkTargets([], []).map((c) => c.met),
      [undefined, undefined, undefined, undefined, undefined],
    );
  });

  it("judges the Kubernetes cold start against 5 s and the file store's figure, with the requests it took", () => {
    const file = scaleRow({ desiredStates: 1000, invariants: 1000, coldStartMs: 2000 });
    const kube = scaleRow({
      store: "kubernetes",
      desiredStates: 1000,
      invariants: 1000,
      coldStartMs: 3000,
      coldStartApiRequests: 1010,
      coldStartRequestsByKind: { "PATCH desiredstates/status": 1000, "GET desiredstates": 10 },
    });
    const cold = (rows: ScaleResult[]): TargetCheck | undefined =>
      checkTargets([], rows).find((c) => c.target.startsWith("cold start"));
    assert.equal(cold([file, kube])?.met, true);
    assert.match(
      cold([file, kube])?.measured ?? "",
      /1010 API requests \(PATCH desiredstates\/status 1000, GET desiredstates 10\)/,
    );
    assert.equal(
      cold([file, { ...kube, coldStartMs: 4500 }])?.met,
      false,
      "under 5 s but more than twice the file store",
    );
    assert.equal(cold([file])?.met, undefined);
  });

  it("judges the agent path and every scenario's evidence; the bench's own target needs a Kubernetes row", () => {
    const agent: AgentPathResult = {
      runs: 5,
      resolved: 5,
      firstRequestMs: summarize([120, 130, 140]),
      turnOwnMs: summarize([8, 9, 30]),
      toolMs: summarize([5]),
      cache: { laterTurns: 15, laterTurnsShare: 0.85, firstTurns: 4, firstTurnsShare: 0.7 },
      evidenceTokens: summarize([300]),
      firstRequestTokens: summarize([2500]),
    };
    const faults = [fault("frozen member", "Steward", [1], { evidenceTokens: 5000 })];
    const checks = checkAllTargets(faults, [scaleRow()], agent);
    const met = (prefix: string): boolean | undefined => checks.find((c) => c.target.startsWith(prefix))?.met;
    assert.equal(met("agent path: drift observed"), true);
    assert.equal(met("agent path: Steward's own time"), true);
    assert.equal(met("agent path: prompt cache"), true);
    assert.equal(met("evidence per remediation"), false, "the frozen member's 5,000 tokens are over the ceiling");
    assert.equal(met("npm run bench stands on its own"), false);
    assert.equal(
      checkAllTargets([], [scaleRow()], "x", "not measured in this mode").find((c) =>
        c.target.startsWith("npm run bench"),
      )?.met,
      undefined,
    );
  });

  it("a token spent on a stopped member misses the target however fast it was", () => {
    const checks = checkTargets(
      [FAULTS[0] as FaultResult, fault("stopped member", "Steward", [100], { tokens: 5 })],
      [],
    );
    assert.equal(checks[0]?.met, false);
  });

  it("counts only API requests beyond watches and lease renewals as per-object traffic", () => {
    assert.equal(
      objectRequestsPerMinute({
        "WATCH desiredstates": 2,
        "PUT leases": 30,
        "GET leases": 1,
        "GET desiredstates": 4,
        "PATCH desiredstates/status": 1,
      }),
      5,
    );
    const checks = checkTargets(
      [],
      [
        scaleRow({
          store: "kubernetes",
          apiRequestsPerMinute: 32,
          apiRequestsByKind: { "WATCH desiredstates": 2, "PUT leases": 30 },
        }),
      ],
    );
    assert.equal(checks.find((c) => c.target.startsWith("no per-object polling"))?.met, true);
  });

  it("renders a table and markdown that carry the figures and the verdicts", () => {
    const report: BenchReport = {
      date: "2026-11-24T00:00:00.000Z",
      mode: "full",
      durationSeconds: 600,
      model: "scripted",
      machine: {
        cpus: 2,
        cpuModel: "Xeon",
        memoryGB: 24,
        kernel: "6.1",
        node: "v20",
        docker: "20.10",
        description: "2 cores",
      },
      faults: FAULTS,
      scale: [scaleRow()],
      kubernetes: "not available (test)",
      agentPath: "not run (test)",
      peer: "not run (test)",
      targets: checkTargets(FAULTS, [scaleRow()]),
    };
    const text = renderTable(report);
    assert.match(text, /stopped member\s+Steward\s+3\s+—\s+150 ms/);
    assert.match(text, /kubernetes store: not available \(test\)/);
    const md = renderMarkdown(report, { json: "x.json", svg: "x.svg" });
    assert.match(md, /^# Steward benchmark/);
    assert.match(md, /\| stopped member: Steward \/ bare docker start \| 1\.36× \|/);
    assert.match(md, /!\[steady-state CPU and RSS, and detection, against the number of DesiredStates\]\(x\.svg\)/);
    assert.match(md, /## Agent path\n\nnot measured: not run \(test\)/);
    assert.match(md, /\| met \|/);
  });
});

describe("the SVG plot", () => {
  it("picks round axis bounds", () => {
    assert.deepEqual(niceScale(270), { top: 300, step: 100 });
    assert.deepEqual(niceScale(0), { top: 1, step: 0.2 });
    assert.deepEqual(niceScale(9), { top: 10, step: 2 });
  });

  it("draws one polyline per run of defined points, escapes text, and is well-formed", () => {
    const svg = renderChart({
      title: "a < b & c",
      yLabel: "ms",
      categories: ["1", "100", "500"],
      series: [{ name: "detect", values: [50, undefined, 70], color: "#000" }],
    });
    assert.equal(svg.match(/<polyline /g)?.length, 2);
    assert.equal(svg.match(/<circle /g)?.length, 2);
    assert.match(svg, /a &lt; b &amp; c/);
    assert.ok(svg.startsWith("<svg") && svg.trimEnd().endsWith("</svg>"));
    assert.equal(escapeXml('"x"'), "&quot;x&quot;");
  });
});

describe("the stacked SVG panels", () => {
  it("nests one chart per panel, each moved down by a panel's height", () => {
    const chart = { title: "t", yLabel: "y", categories: ["1"], series: [{ name: "s", values: [1], color: "#000" }] };
    const svg = renderPanels([chart, chart, chart]);
    assert.equal(svg.match(/<svg /g)?.length, 4);
    assert.match(svg, /<svg y="840" /);
    assert.match(svg, /height="1260"/);
  });
});
