import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { InvariantSpec } from "../../src/api/desired-state.js";
import type { DockerActions } from "../../src/act/types.js";
import { gatherEvidence } from "../../src/reconcile/evidence.js";
import type { OpenStep } from "../../src/reconcile/remediations.js";
import { container } from "./fixtures.js";

const PEM =
  "-----BEGIN RSA PRIVATE KEY-----\nQUFBQWJhc2U2NGxpbmUx\nQkJCQmJhc2U2NGxpbmUy\n-----END RSA PRIVATE KEY-----";

function step(subject: string, type: OpenStep["drift"]["type"] = "ContainerStopped"): OpenStep {
  return {
    type: "open",
    drift: { type, subject, expected: "running", observed: "exited", since: "2026-01-01T00:00:00Z" },
    fingerprint: "f",
    reason: "NoSimpleFix",
    message: "",
    fixesTried: 0,
  };
}

function actions(logs: string[], env: string[]): DockerActions {
  return {
    start: () => Promise.resolve(),
    restart: () => Promise.resolve(),
    logs: () => Promise.resolve(logs),
    secretValues: () => Promise.resolve(env),
  };
}

const sources = { invariants: [] as InvariantSpec[], queryResults: new Map(), signal: AbortSignal.timeout(5_000) };

describe("evidence is redacted before it is stored", () => {
  it("log lines: keys, bearer tokens, URL passwords, password pairs, a PEM block across lines, and the container's env values", async () => {
    const logs = [
      "starting",
      "key sk-ant-api03-abcdefghijklmnop",
      "Authorization: Bearer abc.def.ghi",
      "db postgres://u:hunter2@db/x",
      "password=letmein",
      ...PEM.split("\n"),
      "opaque opaquevalue99",
      "done",
    ];
    const evidence = await gatherEvidence(step("container/etcd1"), {
      ...sources,
      containers: [container("etcd1", { state: "exited", error: "token=tok123456 rejected" })],
      actions: actions(logs, ["opaquevalue99", PEM, "1"]),
    });
    const stored = evidence.evidence.containers?.[0];
    const text = JSON.stringify(stored);
    for (const secret of [
      "abcdefghijklmnop",
      "abc.def.ghi",
      "hunter2",
      "letmein",
      "QUFBQWJhc2U2NGxpbmUx",
      "QkJCQmJhc2U2NGxpbmUy",
      "opaquevalue99",
      "tok123456",
    ]) {
      assert.ok(!text.includes(secret), `${secret} in ${text}`);
    }
    assert.equal(stored?.logs[0], "starting");
    assert.equal(stored?.logs.at(-1), "done");
    assert.ok(stored?.logs.includes("opaque [REDACTED]"));
  });

  it("metric evidence: label values and the query error", async () => {
    const invariants: InvariantSpec[] = [
      {
        name: "up",
        query: "up",
        condition: "== 1",
        for: "0s",
        severity: "warning",
        description: "",
        onMissingData: "unknown",
      },
    ];
    const queryResults = new Map([
      ["up", { ok: true as const, samples: [{ labels: { instance: "http://admin:s3cretpw@h:9100" }, value: 0 }] }],
    ]);
    const evidence = await gatherEvidence(step("invariant/up", "InvariantViolated"), {
      ...sources,
      containers: [],
      invariants,
      queryResults,
    });
    assert.ok(!JSON.stringify(evidence).includes("s3cretpw"));
  });
});
