import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AlertCache } from "../../../src/observe/alerts/cache.js";
import { parseWebhookPayload } from "../../../src/observe/alerts/payload.js";
import type { AlertObserverEvent, ReceivedAlert } from "../../../src/observe/types.js";
import { webhookBody } from "../../support/alerts.js";

const logger = { info: (): void => undefined, warn: (): void => undefined };

describe("parseWebhookPayload", () => {
  it("reads Alertmanager's version 4 payload", () => {
    const parsed = parseWebhookPayload(
      webhookBody([
        { status: "firing", fingerprint: "0a1b2c3d4e5f6a7b", labels: { alertname: "EtcdNoLeader", job: "etcd" } },
      ]),
    );
    assert.deepEqual(parsed, {
      ok: true,
      alerts: [
        {
          fingerprint: "0a1b2c3d4e5f6a7b",
          status: "firing",
          labels: { alertname: "EtcdNoLeader", job: "etcd" },
          annotations: { summary: "no leader" },
          startsAt: "2026-12-01T09:59:00.000Z",
          endsAt: "0001-01-01T00:00:00Z",
          generatorURL: "http://127.0.0.1:19091/graph?g0.expr=up",
          receiver: "steward",
        },
      ],
    });
  });

  const refusals: [string, (body: Record<string, unknown>) => unknown, RegExp][] = [
    ["another version", (b) => ({ ...b, version: "3" }), /^version: expected version "4"/],
    ["not an object", () => [1, 2], /expected object/],
    ["alerts not a list", (b) => ({ ...b, alerts: "x" }), /^alerts: /],
    [
      "an alert without a fingerprint",
      (b) => ({ ...b, alerts: [{ ...first(b), fingerprint: undefined }] }),
      /^alerts\.0\.fingerprint/,
    ],
    [
      "a fingerprint that is not hex",
      (b) => ({ ...b, alerts: [{ ...first(b), fingerprint: "../../x" }] }),
      /hex fingerprint/,
    ],
    [
      "an alert without alertname",
      (b) => ({ ...b, alerts: [{ ...first(b), labels: { job: "x" } }] }),
      /alertname label is missing/,
    ],
    ["a bad status", (b) => ({ ...b, alerts: [{ ...first(b), status: "pending" }] }), /^alerts\.0\.status/],
    ["a bad time", (b) => ({ ...b, alerts: [{ ...first(b), startsAt: "yesterday" }] }), /RFC 3339/],
    [
      "a label value that is not text",
      (b) => ({ ...b, alerts: [{ ...first(b), labels: { alertname: "A", n: 1 } }] }),
      /^alerts\.0\.labels\.n/,
    ],
  ];
  for (const [name, mutate, reason] of refusals) {
    it(`refuses ${name}, saying where`, () => {
      const body = webhookBody([{ status: "firing", fingerprint: "aa", labels: { alertname: "A" } }]) as Record<
        string,
        unknown
      >;
      const parsed = parseWebhookPayload(mutate(body));
      assert.equal(parsed.ok, false);
      assert.match(parsed.ok ? "" : parsed.reason, reason);
    });
  }
});

function first(body: Record<string, unknown>): Record<string, unknown> {
  return (body.alerts as Record<string, unknown>[])[0] ?? {};
}

function alert(fingerprint: string, status: ReceivedAlert["status"] = "firing"): ReceivedAlert {
  return { fingerprint, status, labels: { alertname: "A" }, annotations: {}, startsAt: "2026-12-01T09:59:00.000Z" };
}

describe("AlertCache", () => {
  it("holds what fires until a resolved notification; events only on a change", () => {
    const cache = new AlertCache({ logger });
    const events: AlertObserverEvent[] = [];
    cache.subscribe((e) => events.push(e));
    cache.receive([alert("a"), alert("b")]);
    cache.receive([alert("a")]);
    assert.deepEqual(
      cache.firing().map((a) => a.fingerprint),
      ["a", "b"],
    );
    assert.equal(events.length, 2, "the repeat of a is not a change");
    cache.receive([alert("a", "resolved")]);
    assert.deepEqual(
      cache.firing().map((a) => a.fingerprint),
      ["b"],
    );
    assert.equal(cache.resolved("a"), true);
    assert.equal(cache.resolved("b"), false);
    assert.deepEqual(events.at(-1), { type: "alert", alert: alert("a", "resolved"), previous: alert("a") });
  });

  it("an alert it never heard of is not called resolved, until a complete list from Alertmanager says so", () => {
    const cache = new AlertCache({ logger });
    assert.equal(cache.resolved("zz"), false, "a restarted Steward may not have heard of it yet");
    cache.receive([alert("a"), alert("b")]);
    cache.replaceAll([alert("b"), alert("c")]);
    assert.deepEqual(
      cache.firing().map((a) => a.fingerprint),
      ["b", "c"],
    );
    assert.equal(cache.resolved("a"), true, "listed: a is gone");
    assert.equal(cache.resolved("zz"), true, "listed: an unknown alert does not fire");
  });

  it("a resolution confirmed by Alertmanager or Prometheus resolves it before the webhook says so", () => {
    const cache = new AlertCache({ logger });
    const events: AlertObserverEvent[] = [];
    cache.subscribe((e) => events.push(e));
    cache.receive([alert("a")]);
    cache.confirmResolved("a");
    cache.confirmResolved("unknown");
    assert.deepEqual(cache.firing(), []);
    assert.equal(cache.resolved("a"), true);
    assert.equal(cache.resolved("unknown"), false, "nothing is made up for an alert it never held");
    assert.deepEqual(
      events.map((e) => (e.type === "alert" ? e.alert.status : e.type)),
      ["firing", "resolved"],
    );
  });
});
