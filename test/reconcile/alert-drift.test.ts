import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AlertSpec } from "../../src/api/alerts.js";
import { DesiredState } from "../../src/api/desired-state.js";
import type { AgentRemediation, DriftWithEvidence } from "../../src/api/remediation.js";
import type { ReceivedAlert } from "../../src/observe/types.js";
import {
  alertDrift,
  alertSeverity,
  computeDrift,
  driftFingerprint,
  matchingAlertSpec,
} from "../../src/reconcile/drift.js";
import { driftCleared, severityOf } from "../../src/reconcile/remediations.js";

const NOW = new Date("2026-12-01T10:00:00.000Z");

function alert(
  fingerprint: string,
  labels: Record<string, string>,
  status: ReceivedAlert["status"] = "firing",
): ReceivedAlert {
  return {
    fingerprint,
    status,
    labels,
    annotations: { summary: "etcd has no leader" },
    startsAt: "2026-12-01T09:59:00.000Z",
  };
}

const spec = (alertname: string, matchers: string[] = [], severity?: AlertSpec["severity"]): AlertSpec => ({
  alertname,
  matchers,
  ...(severity ? { severity } : {}),
});

describe("alertDrift: firing alerts that spec.alerts declares are drift", () => {
  const noLeader = alert("a1", { alertname: "EtcdNoLeader", job: "etcd", instance: "127.0.0.1:22379" });
  const otherJob = alert("b2", { alertname: "EtcdNoLeader", job: "other" });
  const otherName = alert("c3", { alertname: "HighLatency", job: "etcd" });
  const resolved = alert("d4", { alertname: "EtcdNoLeader", job: "etcd" }, "resolved");
  const cases: [string, AlertSpec[], ReceivedAlert[], string[]][] = [
    ["no spec.alerts: no alert is drift", [], [noLeader], []],
    [
      "alertname alone matches every alert of that name",
      [spec("EtcdNoLeader")],
      [noLeader, otherJob],
      ["alert/a1", "alert/b2"],
    ],
    ["matchers narrow it", [spec("EtcdNoLeader", ['job="etcd"'])], [noLeader, otherJob, otherName], ["alert/a1"]],
    ["another alertname is not drift", [spec("EtcdNoLeader")], [otherName], []],
    ["a resolved alert is not drift", [spec("EtcdNoLeader")], [resolved], []],
    [
      "two entries: each alert once",
      [spec("EtcdNoLeader"), spec("HighLatency")],
      [otherName, noLeader],
      ["alert/a1", "alert/c3"],
    ],
  ];
  for (const [name, specs, firing, subjects] of cases) {
    it(name, () =>
      assert.deepEqual(
        alertDrift(specs, firing).map((d) => d.subject),
        subjects,
      ),
    );
  }

  it("one drift per alert: AlertFiring, subject alert/<fingerprint>, since the alert started", () => {
    assert.deepEqual(alertDrift([spec("EtcdNoLeader")], [noLeader]), [
      {
        type: "AlertFiring",
        subject: "alert/a1",
        expected: "not firing",
        observed: "EtcdNoLeader firing",
        since: "2026-12-01T09:59:00.000Z",
      },
    ]);
  });

  it("computeDrift adds alert drift to the target's and keeps each alert a separate fingerprint", () => {
    const drift = computeDrift({
      services: [],
      containers: [],
      invariants: [],
      alerts: { specs: [spec("EtcdNoLeader")], firing: [noLeader, otherJob] },
      previous: [],
      now: NOW,
    });
    assert.deepEqual(
      drift.map((d) => d.type),
      ["AlertFiring", "AlertFiring"],
    );
    assert.notEqual(
      driftFingerprint("etcd", drift[0] ?? assert.fail()),
      driftFingerprint("etcd", drift[1] ?? assert.fail()),
    );
  });
});

describe("matchingAlertSpec and alertSeverity", () => {
  it("the first matching entry wins; none matches: undefined", () => {
    const specs = [spec("X", ['job="a"'], "info"), spec("X", [], "critical")];
    assert.equal(matchingAlertSpec(specs, { alertname: "X", job: "a" })?.severity, "info");
    assert.equal(matchingAlertSpec(specs, { alertname: "X", job: "b" })?.severity, "critical");
    assert.equal(matchingAlertSpec(specs, { alertname: "Y" }), undefined);
  });

  const cases: [AlertSpec | undefined, Record<string, string>, string][] = [
    [spec("X", [], "info"), { severity: "critical" }, "info"],
    [spec("X"), { severity: "critical" }, "critical"],
    [spec("X"), { severity: "page" }, "warning"],
    [undefined, {}, "warning"],
  ];
  for (const [given, labels, expected] of cases) {
    it(`spec ${given?.severity ?? "-"}, label ${labels.severity ?? "-"} → ${expected}`, () =>
      assert.equal(alertSeverity(given, labels), expected));
  }
});

function remediationFor(drift: DriftWithEvidence[]): AgentRemediation {
  return {
    apiVersion: "steward.dev/v1alpha1",
    kind: "AgentRemediation",
    metadata: { name: "r", namespace: "default" },
    spec: {
      desiredStateRef: { name: "etcd" },
      fingerprint: "f",
      reason: "NoSimpleFix",
      drift,
      policyRef: "default",
      mode: "auto",
      maxAttempts: 2,
    },
  };
}

describe("driftCleared for an alert-driven remediation", () => {
  const drift: DriftWithEvidence = {
    type: "AlertFiring",
    subject: "alert/a1",
    expected: "not firing",
    observed: "EtcdNoLeader firing",
    since: "2026-12-01T09:59:00.000Z",
    evidence: {},
  };
  const base = { desiredState: "etcd", currentDrift: [], invariants: [], targetObserved: true };

  it("only once the alert is known resolved: absent from what Steward heard of is not resolved", () => {
    assert.equal(driftCleared(remediationFor([drift]), base), false);
    assert.equal(driftCleared(remediationFor([drift]), { ...base, alertResolved: () => false }), false);
    assert.equal(driftCleared(remediationFor([drift]), { ...base, alertResolved: (fp) => fp === "a1" }), true);
    assert.equal(driftCleared(remediationFor([drift]), { ...base, alertResolved: (fp) => fp === "zz" }), false);
  });
});

describe("severityOf: how bad a remediation's drift is", () => {
  const ds = DesiredState.parse({
    apiVersion: "steward.dev/v1alpha1",
    kind: "DesiredState",
    metadata: { name: "etcd" },
    spec: {
      target: { docker: { project: "etcd" } },
      invariants: [{ name: "quorum", query: "up", condition: "== 3", severity: "info" }],
      alerts: [{ alertname: "EtcdNoLeader", severity: "critical" }, { alertname: "Slow" }],
    },
  });
  const d = (type: DriftWithEvidence["type"], subject: string, labels?: Record<string, string>): DriftWithEvidence => ({
    type,
    subject,
    expected: "",
    observed: "",
    since: "",
    evidence: labels
      ? {
          alert: {
            alertname: labels.alertname ?? "",
            fingerprint: "a",
            status: "firing",
            labels,
            annotations: {},
            startsAt: "",
          },
        }
      : {},
  });
  const cases: [DriftWithEvidence, string][] = [
    [d("InvariantViolated", "invariant/quorum"), "info"],
    [d("AlertFiring", "alert/a", { alertname: "EtcdNoLeader", severity: "info" }), "critical"],
    [d("AlertFiring", "alert/a", { alertname: "Slow", severity: "info" }), "info"],
    [d("ContainerStopped", "container/etcd1"), "critical"],
  ];
  for (const [drift, expected] of cases) {
    it(`${drift.type} ${drift.subject} → ${expected}`, () => assert.equal(severityOf(ds, drift), expected));
  }
});
