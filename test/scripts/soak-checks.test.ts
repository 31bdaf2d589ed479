import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AgentRemediation } from "../../src/api/remediation.js";
import { stoppedIn } from "../../scripts/lib/soak-agent.js";
import {
  duplicateActions,
  duplicateOpen,
  flatMemory,
  lostRecords,
  openedOnStaleObservation,
  overlappingRemediations,
  slopeMBPerHour,
} from "../../scripts/lib/soak-checks.js";

function remediation(
  name: string,
  fingerprint: string,
  phase: string,
  times: { openedAt: string; closedAt?: string; reason?: string },
): AgentRemediation {
  const { openedAt, closedAt, reason } = times;
  return {
    apiVersion: "steward.dev/v1alpha1",
    kind: "AgentRemediation",
    metadata: { name, namespace: "default" },
    spec: {
      desiredStateRef: { name: "etcd" },
      fingerprint,
      reason: "NoSimpleFix",
      drift: [],
      policyRef: "default",
      mode: "auto",
    },
    status: { phase, openedAt, closedAt, reason, attempts: [], actions: [], pendingApproval: [] },
  } as unknown as AgentRemediation;
}

describe("soak checks", () => {
  it("lost records: every opened remediation stored, each terminal or open with a reason", () => {
    const stored = [
      remediation("a", "f1", "Resolved", { openedAt: "2026-01-01T00:00:00Z", closedAt: "2026-01-01T00:01:00Z" }),
      remediation("b", "f2", "Pending", { openedAt: "2026-01-01T00:02:00Z", reason: "NoModelConfigured" }),
    ];
    assert.equal(lostRecords(stored, 2, ["a", "b"]).pass, true);
    assert.equal(lostRecords(stored, 3, ["a", "b"]).pass, false, "the metric counted one more than is stored");
    assert.deepEqual(lostRecords(stored, 2, ["a", "c"]).details.missing, ["c"]);
    const silent = [remediation("c", "f3", "Investigating", { openedAt: "2026-01-01T00:00:00Z" })];
    assert.deepEqual(lostRecords(silent, 1, ["c"]).details.openWithoutReason, ["c"]);
  });

  it("duplicate remediations: overlapping [openedAt, closedAt) on one fingerprint, and two open in one snapshot", () => {
    const sequential = [
      remediation("a", "f", "Escalated", { openedAt: "2026-01-01T00:00:00Z", closedAt: "2026-01-01T00:01:00Z" }),
      remediation("b", "f", "Pending", { openedAt: "2026-01-01T00:01:00Z", reason: "x" }),
    ];
    assert.deepEqual(overlappingRemediations(sequential, new Date("2026-01-01T01:00:00Z")), []);
    const overlapping = [
      remediation("a", "f", "Resolved", { openedAt: "2026-01-01T00:00:00Z", closedAt: "2026-01-01T00:05:00Z" }),
      remediation("b", "f", "Resolved", { openedAt: "2026-01-01T00:01:00Z", closedAt: "2026-01-01T00:06:00Z" }),
    ];
    assert.equal(overlappingRemediations(overlapping, new Date()).length, 1);
    // Opened on an observation from before the previous one closed, created after it closed: not two open at once.
    const stale = [
      remediation("a", "f", "Resolved", { openedAt: "2026-01-01T00:00:00Z", closedAt: "2026-01-01T00:00:46Z" }),
      remediation("b", "f", "Resolved", { openedAt: "2026-01-01T00:00:44Z", closedAt: "2026-01-01T00:01:10Z" }),
    ];
    (stale[1] as AgentRemediation).metadata.creationTimestamp = "2026-01-01T00:00:48Z";
    assert.deepEqual(overlappingRemediations(stale, new Date()), []);
    assert.deepEqual(openedOnStaleObservation(stale), ["b"]);
    assert.deepEqual(
      duplicateOpen([
        remediation("a", "f", "Pending", { openedAt: "x", reason: "r" }),
        remediation("b", "f", "Investigating", { openedAt: "y" }),
      ]),
      ["etcd/f: a, b"],
    );
    assert.deepEqual(
      duplicateOpen([
        remediation("a", "f", "Pending", { openedAt: "x" }),
        remediation("b", "g", "Pending", { openedAt: "y" }),
      ]),
      [],
    );
  });

  it("duplicate actions: Docker's starts (restarts excluded) and restarts against the records", () => {
    const observed = new Map([["etcd0", { start: 5, restart: 2 }]]);
    const none = new Map<string, { start: number; restart: number }>();
    assert.equal(
      duplicateActions(observed, { ran: new Map([["etcd0", { start: 3, restart: 2 }]]), failed: none }).pass,
      true,
    );
    assert.equal(
      duplicateActions(observed, { ran: new Map([["etcd0", { start: 2, restart: 2 }]]), failed: none }).pass,
      false,
      "a start with no record",
    );
    assert.equal(
      duplicateActions(observed, {
        ran: new Map([["etcd0", { start: 2, restart: 1 }]]),
        failed: new Map([["etcd0", { start: 1, restart: 1 }]]),
      }).pass,
      true,
      "a failed attempt may have run",
    );
    assert.equal(
      duplicateActions(new Map([["etcd1", { start: 1, restart: 0 }]]), { ran: none, failed: none }).pass,
      false,
    );
  });

  it("memory: flat, growing, and the slope", () => {
    const flat = Array.from({ length: 100 }, (_, i) => ({ t: i * 5, rssMB: 90 + (i % 3) }));
    assert.equal(flatMemory(flat).pass, true);
    const leaking = Array.from({ length: 100 }, (_, i) => ({ t: i * 5, rssMB: 90 + i }));
    assert.equal(flatMemory(leaking).pass, false);
    assert.ok(Math.abs(slopeMBPerHour(leaking) - 720) < 1e-6, String(slopeMBPerHour(leaking)));
  });

  it("memory: a heap that saws but keeps its floor is flat; a rising floor is a leak", () => {
    const sawing = Array.from({ length: 100 }, (_, i) => ({
      t: i * 5,
      rssMB: 150 + (i % 10),
      heapUsedMB: 40 + (i % 10) * 3,
    }));
    assert.equal(flatMemory(sawing).pass, true, flatMemory(sawing).summary);
    const rising = Array.from({ length: 100 }, (_, i) => ({
      t: i * 5,
      rssMB: 150 + (i % 10),
      heapUsedMB: 40 + i / 2 + (i % 10) * 3,
    }));
    assert.equal(flatMemory(rising).pass, false, flatMemory(rising).summary);
  });

  it("the fake operator finds the project's stopped containers in docker_ps output", () => {
    const ps = `<untrusted-data-0123456789abcdef source="docker ps -a">\nNAME\tSTATE\tHEALTH\tEXIT\tRESTARTS\tPROJECT\tSERVICE\tIMAGE\netcd0\trunning\thealthy\t0\t0\tetcd\tetcd0\ti\netcd1\texited\tnone\t137\t0\tetcd\tetcd1\ti\nother\texited\tnone\t0\t0\tx\tx\ti\n</untrusted-data-0123456789abcdef>`;
    assert.deepEqual(stoppedIn(ps, "etcd"), [{ name: "etcd1", state: "exited" }]);
  });
});
