import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RemediationPhase, RemediationStatus } from "../../src/api/remediation.js";
import { remediationConditions, withRemediationConditions } from "../../src/reconcile/remediation-conditions.js";
import { emptyRemediationStatus } from "../../src/reconcile/remediations.js";

const T0 = new Date("2026-11-24T10:00:00.000Z");
const T1 = new Date("2026-11-24T10:05:00.000Z");

function statusIn(phase: RemediationPhase, extra: Partial<RemediationStatus> = {}): RemediationStatus {
  return { ...emptyRemediationStatus(), phase, ...extra };
}

/** `Type=Status/Reason` of each condition, in order. */
function summary(status: RemediationStatus): string[] {
  return remediationConditions(status, 1).map((c) => `${c.type}=${c.status}/${c.reason}`);
}

describe("remediationConditions: one row per phase", () => {
  const rows: [RemediationPhase, Partial<RemediationStatus>, string[]][] = [
    [
      "Pending",
      {},
      [
        "Ready=Unknown/Pending",
        "Resolved=Unknown/Pending",
        "AwaitingApproval=False/Pending",
        "Stalled=False/Pending",
        "Reconciling=True/Pending",
      ],
    ],
    [
      "Investigating",
      {},
      [
        "Ready=Unknown/Investigating",
        "Resolved=Unknown/Investigating",
        "AwaitingApproval=False/Investigating",
        "Stalled=False/Investigating",
        "Reconciling=True/Investigating",
      ],
    ],
    [
      "AwaitingApproval",
      {
        pendingApproval: [
          { id: "toolu_1", tool: "docker_start", command: ["docker", "start", "x"], reason: "ask", requestedAt: "" },
        ],
      },
      [
        "Ready=Unknown/AwaitingApproval",
        "Resolved=Unknown/AwaitingApproval",
        "AwaitingApproval=True/ApprovalRequired",
        "Stalled=False/AwaitingApproval",
        "Reconciling=True/AwaitingApproval",
      ],
    ],
    [
      "Verifying",
      {},
      [
        "Ready=Unknown/Verifying",
        "Resolved=Unknown/Verifying",
        "AwaitingApproval=False/Verifying",
        "Stalled=False/Verifying",
        "Reconciling=True/Verifying",
      ],
    ],
    [
      "Resolved",
      { reason: "DriftCleared", message: "the drift cleared without any action from the agent" },
      [
        "Ready=True/DriftCleared",
        "Resolved=True/DriftCleared",
        "AwaitingApproval=False/Resolved",
        "Stalled=False/Resolved",
        "Reconciling=False/Resolved",
      ],
    ],
    [
      "Escalated",
      { reason: "BudgetExceeded", message: "maxTurns reached" },
      [
        "Ready=False/Escalated",
        "Resolved=False/Escalated",
        "AwaitingApproval=False/Escalated",
        "Stalled=True/Escalated",
        "Reconciling=False/Escalated",
      ],
    ],
    [
      "Failed",
      {},
      [
        "Ready=False/Failed",
        "Resolved=False/Failed",
        "AwaitingApproval=False/Failed",
        "Stalled=True/Failed",
        "Reconciling=False/Failed",
      ],
    ],
    [
      "Interrupted",
      {},
      [
        "Ready=False/Interrupted",
        "Resolved=False/Interrupted",
        "AwaitingApproval=False/Interrupted",
        "Stalled=True/Interrupted",
        "Reconciling=False/Interrupted",
      ],
    ],
    [
      "Cancelled",
      {},
      [
        "Ready=False/Cancelled",
        "Resolved=False/Cancelled",
        "AwaitingApproval=False/Cancelled",
        "Stalled=False/Cancelled",
        "Reconciling=False/Cancelled",
      ],
    ],
  ];
  for (const [phase, extra, expected] of rows) {
    it(phase, () => assert.deepEqual(summary(statusIn(phase, extra)), expected));
  }

  it("every condition carries the generation as observedGeneration", () => {
    for (const c of remediationConditions(statusIn("Investigating"), 7)) assert.equal(c.observedGeneration, 7);
  });

  it("AwaitingApproval names the calls waiting and how to decide; Escalated carries the status message", () => {
    const waiting = remediationConditions(
      statusIn("AwaitingApproval", {
        pendingApproval: [
          { id: "toolu_1", tool: "shell", command: ["docker", "start", "a"], reason: "ask", requestedAt: "" },
          { id: "toolu_2", tool: "shell", command: ["docker", "start", "b"], reason: "ask", requestedAt: "" },
        ],
      }),
      1,
    ).find((c) => c.type === "AwaitingApproval");
    assert.match(waiting?.message ?? "", /2 call\(s\) wait for a person's decision: toolu_1, toolu_2/);
    const stalled = remediationConditions(statusIn("Escalated", { message: "maxTurns reached" }), 1).find(
      (c) => c.type === "Stalled",
    );
    assert.equal(stalled?.message, "maxTurns reached");
  });
});

describe("withRemediationConditions", () => {
  it("lastTransitionTime moves only when a condition's status changes", () => {
    const opened = withRemediationConditions(statusIn("Pending"), 1, T0);
    const investigating = withRemediationConditions({ ...opened, phase: "Investigating" }, 1, T1);
    const resolved = investigating.conditions.find((c) => c.type === "Resolved");
    assert.equal(resolved?.lastTransitionTime, T0.toISOString(), "Unknown → Unknown keeps the time");
    const done = withRemediationConditions({ ...investigating, phase: "Resolved", reason: "Verified" }, 1, T1);
    assert.equal(done.conditions.find((c) => c.type === "Resolved")?.lastTransitionTime, T1.toISOString());
    assert.equal(done.conditions.length, 5, "one condition per type, replaced in place");
  });
});
