import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sameAlert } from "../../../src/observe/alerts/status.js";

describe("sameAlert: is this ALERTS series the alert Alertmanager holds?", () => {
  const alert = { alertname: "EtcdMemberDown", instance: "127.0.0.1:22379", job: "etcd", severity: "critical" };
  const series = { __name__: "ALERTS", alertstate: "firing", ...alert };
  const cases: [string, Record<string, string>, Record<string, string>, boolean][] = [
    [
      "the series as Prometheus returns it (__name__ and alertstate are the series', not the alert's)",
      series,
      alert,
      true,
    ],
    ["Alertmanager's copy with Prometheus's external labels too", series, { ...alert, cluster: "eu-1" }, true],
    ["another instance", { ...series, instance: "127.0.0.1:32379" }, alert, false],
    ["a label the alert lacks", { ...series, pod: "x" }, alert, false],
    ["a value known only redacted (evidence) matches", series, { ...alert, instance: "[REDACTED]" }, true],
  ];
  for (const [name, s, a, expected] of cases) it(name, () => assert.equal(sameAlert(s, a), expected));
});
