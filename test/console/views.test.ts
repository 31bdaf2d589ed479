import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AuditEntry } from "../../src/agent/audit.js";
import { resolveConsoleConfig } from "../../src/console/config.js";
import { html } from "../../src/console/html.js";
import { timelineOf } from "../../src/console/timeline.js";
import { fixesPerHour } from "../../src/console/views/chart.js";
import { escapeHtml } from "../../src/text/html.js";

describe("escapeHtml and the html tag", () => {
  it("keeps markup in untrusted text as text: tags, a forged closing tag, attribute breakouts", () => {
    assert.equal(escapeHtml(`</pre><script>x()</script>`), "&lt;/pre&gt;&lt;script&gt;x()&lt;/script&gt;");
    assert.equal(escapeHtml(`" onerror="x()' &`), "&quot; onerror=&quot;x()&#39; &amp;");
  });
  it("shows control and bidi characters as escapes and redacts secrets", () => {
    assert.equal(escapeHtml("a\u202eb\x1b[2Jc\nd"), "a\\u202eb\\u001b[2Jc\nd");
    assert.equal(escapeHtml("password=hunter2"), "password=[REDACTED]");
  });
  it("escapes interpolated strings but not markup made by the tag; lists join; nothing renders empty", () => {
    const inner = html`<b>${"<i>"}</b>`;
    assert.equal(
      html`<p title="${'"x'}">${inner}${["<", html`<br />`]}${undefined}${false}${0}</p>`.text,
      `<p title="&quot;x"><b>&lt;i&gt;</b>&lt;<br />0</p>`,
    );
  });
});

const entry = (seq: number, kind: AuditEntry["kind"], data: AuditEntry["data"]): AuditEntry => ({
  seq,
  time: `2026-01-01T00:00:0${seq}Z`,
  kind,
  prevHash: "0".repeat(64),
  data,
  hash: "0".repeat(64),
});

describe("timelineOf", () => {
  it("ties each call's decision, approval, change and result to the call, even when parallel calls interleave", () => {
    const steps = timelineOf([
      entry(1, "reasoning", { text: "two things" }),
      entry(2, "tool_call", { id: "a", tool: "docker_ps", input: { all: true } }),
      entry(3, "tool_call", { id: "b", tool: "docker_start", input: { container: "etcd1" } }),
      entry(4, "policy_decision", { id: "a", decision: "allow", reason: "read-only", stage: "read" }),
      entry(5, "policy_decision", {
        id: "b",
        decision: "ask",
        reason: "mutating",
        stage: "rule",
        rule: "docker start *",
      }),
      entry(6, "tool_result", { id: "a", isError: false, output: "etcd1 exited" }),
      entry(7, "approval", { id: "b", approved: true, by: "alice" }),
      entry(8, "action", { id: "b", tool: "docker_start", command: ["docker", "start", "etcd1"], state: "Started" }),
      entry(9, "tool_result", { id: "b", isError: false, output: "etcd1", exitCode: 0 }),
      entry(10, "verification", { cleared: true, details: "gone", phase: "Resolved" }),
    ]);
    assert.deepEqual(
      steps.map((s) => s.kind),
      ["reasoning", "call", "call", "verification"],
    );
    const b = steps[2];
    assert.ok(b?.kind === "call");
    assert.deepEqual(b.decision, { decision: "ask", reason: "mutating", stage: "rule", rule: "docker start *" });
    assert.deepEqual(b.approval, { approved: true, by: "alice", reason: undefined });
    assert.equal(b.change?.state, "Started");
    assert.equal(b.result?.exitCode, 0);
  });
  it("never throws on odd entries: a result without its call and an unknown kind become notes", () => {
    const steps = timelineOf([
      entry(1, "tool_result", { id: "zz", isError: true, output: "x" }),
      { ...entry(2, "session", {}), kind: "from_the_future" as AuditEntry["kind"] },
    ]);
    assert.deepEqual(
      steps.map((s) => (s.kind === "note" ? s.label : s.kind)),
      ["tool_result", "from_the_future"],
    );
  });
});

describe("fixesPerHour", () => {
  it("counts the last 24 h by hour, oldest first, and leaves older fixes out", () => {
    const now = new Date("2026-01-02T00:00:00Z");
    const buckets = fixesPerHour(
      [
        { subject: "a", action: "start", time: "2026-01-01T23:30:00Z", result: "Succeeded" },
        { subject: "a", action: "start", time: "2026-01-01T23:40:00Z", result: "Failed" },
        { subject: "a", action: "start", time: "2026-01-01T00:30:00Z", result: "Succeeded" },
        { subject: "a", action: "start", time: "2025-12-31T12:00:00Z", result: "Succeeded" },
      ],
      now,
    );
    assert.equal(buckets.length, 24);
    assert.deepEqual(buckets[23], { fixesSucceeded: 1, fixesOther: 1 });
    assert.deepEqual(buckets[0], { fixesSucceeded: 1, fixesOther: 0 });
    assert.equal(
      buckets.reduce((n, b) => n + b.fixesSucceeded + b.fixesOther, 0),
      3,
    );
  });
});

describe("resolveConsoleConfig", () => {
  it("listens on 127.0.0.1:9480 by default", () => {
    assert.deepEqual(resolveConsoleConfig({}), { host: "127.0.0.1", port: 9480, tls: undefined, allNamespaces: false });
  });
  it("refuses a non-loopback address without TLS, naming the flags to add", () => {
    assert.throws(
      () => resolveConsoleConfig({ addr: "0.0.0.0:9480" }),
      /not a loopback address.*--tls-cert and --tls-key/,
    );
    assert.throws(() => resolveConsoleConfig({ addr: "10.0.0.5:9480", tlsCert: "c.pem" }), /go together/);
  });
  it("accepts a non-loopback address with TLS, and [::1] without", () => {
    assert.equal(resolveConsoleConfig({ addr: "0.0.0.0:9480", tlsCert: "c", tlsKey: "k" }).tls?.certPath, "c");
    assert.equal(resolveConsoleConfig({ addr: "[::1]:9480" }).host, "::1");
  });
  it("names --addr in a malformed address", () => {
    assert.throws(() => resolveConsoleConfig({ addr: "nonsense" }), /^StewardError: --addr: expected host:port/);
  });
});
