import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_MATCHED_VALUE, Matchers, parseMatcher } from "../../src/api/alert-matchers.js";
import { DesiredState } from "../../src/api/desired-state.js";

describe("Alertmanager matchers: parsing", () => {
  const valid: [string, { name: string; op: string; value: string }][] = [
    ['job="etcd"', { name: "job", op: "=", value: "etcd" }],
    ["job=etcd", { name: "job", op: "=", value: "etcd" }],
    [' severity != "info" ', { name: "severity", op: "!=", value: "info" }],
    ['instance=~"127\\\\.0\\\\.0\\\\.1:.*"', { name: "instance", op: "=~", value: "127\\.0\\.0\\.1:.*" }],
    ['env!~"dev|test"', { name: "env", op: "!~", value: "dev|test" }],
    ['summary="say \\"hi\\""', { name: "summary", op: "=", value: 'say "hi"' }],
    ['team=""', { name: "team", op: "=", value: "" }],
  ];
  for (const [text, expected] of valid) {
    it(`reads ${text}`, () => assert.deepEqual(parseMatcher(text), expected));
  }

  const invalid: [string, RegExp][] = [
    ["job", /expected a matcher like/],
    ['1job="x"', /expected a matcher like/],
    ['job="etcd', /unterminated or malformed/],
    ['job=et"cd', /unterminated or malformed/],
    ['job=~"(a"', /does not compile/],
    ['job=~"(?=a)a"', /lookaround or a backreference/],
    ['job=~"(a)\\\\1"', /lookaround or a backreference/],
  ];
  for (const [text, problem] of invalid) {
    it(`refuses ${text}`, () => {
      const parsed = parseMatcher(text);
      assert.equal(typeof parsed, "string");
      assert.match(parsed as string, problem);
    });
  }
});

describe("Alertmanager matchers: matching", () => {
  const labels = { alertname: "EtcdNoLeader", job: "etcd", instance: "127.0.0.1:22379", severity: "critical" };
  const cases: [string[], Record<string, string>, boolean][] = [
    [[], labels, true],
    [['job="etcd"'], labels, true],
    [['job="prometheus"'], labels, false],
    [['job!="etcd"'], labels, false],
    [['instance=~"127\\\\.0\\\\.0\\\\.1:\\\\d+"'], labels, true],
    // Anchored at both ends, as in Alertmanager: a substring is not a match.
    [['instance=~"127"'], labels, false],
    [['severity!~"info|warning"'], labels, true],
    // A missing label has the value "".
    [['team=""'], labels, true],
    [['team!=""'], labels, false],
    [['team=~".*"'], labels, true],
    // All must hold.
    [['job="etcd"', 'severity="warning"'], labels, false],
    [['job="etcd"', 'severity="critical"'], labels, true],
    // A label named like an Object.prototype member is a label, not a property lookup.
    [['constructor=""'], labels, true],
    [['toString="x"'], { ...labels, toString: "x" }, true],
  ];
  for (const [texts, given, expected] of cases) {
    it(`${JSON.stringify(texts)} → ${String(expected)}`, () =>
      assert.equal(Matchers.parse(texts).matches(given), expected));
  }

  it("never runs a regex over a value longer than the cap (an attacker's label must not stall a reconcile)", () => {
    const long = "a".repeat(MAX_MATCHED_VALUE + 1);
    assert.equal(Matchers.parse(['x=~"a*"']).matches({ x: long }), false);
    assert.equal(Matchers.parse(['x!~"a*"']).matches({ x: long }), true);
    assert.equal(Matchers.parse(['x=~"a*"']).matches({ x: "a".repeat(MAX_MATCHED_VALUE) }), true);
  });
});

describe("spec.alerts in a DesiredState", () => {
  const base = {
    apiVersion: "steward.dev/v1alpha1",
    kind: "DesiredState",
    metadata: { name: "etcd" },
    spec: { target: { docker: { project: "etcd" } } },
  };

  it("defaults to none, and reads alertname, matchers and severity", () => {
    assert.deepEqual(DesiredState.parse(base).spec.alerts, []);
    const parsed = DesiredState.parse({
      ...base,
      spec: { ...base.spec, alerts: [{ alertname: "EtcdNoLeader", matchers: ['job="etcd"'], severity: "critical" }] },
    });
    assert.deepEqual(parsed.spec.alerts, [
      { alertname: "EtcdNoLeader", matchers: ['job="etcd"'], severity: "critical" },
    ]);
  });

  it("names the bad matcher's field path and says what is wrong", () => {
    const result = DesiredState.safeParse({
      ...base,
      spec: { ...base.spec, alerts: [{ alertname: "X", matchers: ['job="etcd"', 'x=~"("'] }] },
    });
    assert.equal(result.success, false);
    const issue = result.error?.issues[0];
    assert.deepEqual(issue?.path, ["spec", "alerts", 0, "matchers", 1]);
    assert.match(issue?.message ?? "", /does not compile/);
  });
});
