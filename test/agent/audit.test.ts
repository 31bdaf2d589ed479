import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile, appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AuditLog, readAuditFile, verifyAuditFile } from "../../src/agent/audit.js";
import { NotFoundError } from "../../src/errors.js";
import { renderAuditForPerson } from "../../src/agent/render.js";

let dir: string;
let n = 0;
const fresh = (): string => join(dir, `r${++n}`, "audit.jsonl");

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "steward-audit-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeLog(path: string, count: number): Promise<void> {
  const log = await AuditLog.open(path);
  for (let i = 1; i <= count; i++) await log.append("reasoning", { text: `step ${i}` });
  await log.close();
}

async function lines(path: string): Promise<string[]> {
  return (await readFile(path, "utf8")).split("\n").slice(0, -1);
}

async function rewrite(path: string, edit: (lines: string[]) => string[]): Promise<void> {
  await writeFile(
    path,
    edit(await lines(path))
      .map((l) => `${l}\n`)
      .join(""),
  );
}

describe("AuditLog: appending", () => {
  it("continues one chain across a close and reopen, as a restarted Steward does", async () => {
    const path = fresh();
    await writeLog(path, 3);
    const log = await AuditLog.open(path);
    assert.equal(log.lastSeq, 3);
    await log.append("phase_change", { from: "Running", to: "Verifying", reason: "resolve called" });
    const last = await log.append("session", { event: "ended" }, { sync: true });
    await log.close();
    assert.equal(last.seq, 5);
    const entries = await readAuditFile(path);
    assert.deepEqual(
      entries.map((e) => e.seq),
      [1, 2, 3, 4, 5],
    );
    const anchored = { seq: 5, hash: log.head };
    assert.deepEqual(log.syncedHead, anchored, "close() synced the last line");
    assert.deepEqual(await verifyAuditFile(path, { expected: anchored }), {
      ok: true,
      entries: 5,
      head: log.head,
      anchored,
    });
  });

  it("writes lines with keys in the documented order, first prevHash 64 zeros, file mode 0600", async () => {
    const path = fresh();
    await writeLog(path, 1);
    const [line] = await lines(path);
    assert.deepEqual(Object.keys(JSON.parse(line ?? "") as object), [
      "seq",
      "time",
      "kind",
      "prevHash",
      "data",
      "hash",
    ]);
    assert.match(line ?? "", /"prevHash":"0{64}"/);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  });

  it("serializes 100 concurrent appends into one unbroken chain", async () => {
    const path = fresh();
    const log = await AuditLog.open(path);
    const written = await Promise.all(
      Array.from({ length: 100 }, (_, i) => log.append("reasoning", { text: `thought ${i}` })),
    );
    await log.close();
    assert.deepEqual(
      written.map((e) => e.seq),
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      (await readAuditFile(path)).map((e) => e.data.text),
      Array.from({ length: 100 }, (_, i) => `thought ${i}`),
    );
    assert.deepEqual(await verifyAuditFile(path), { ok: true, entries: 100, head: log.head });
  });

  it("passes every string in data, however deep, through sanitize before it reaches the file", async () => {
    const path = fresh();
    const secret = "sk-ant-api03-SECRETSECRET";
    const log = await AuditLog.open(path, { sanitize: (t) => t.replaceAll(secret, "[REDACTED]") });
    await log.append("tool_call", {
      id: "toolu_1",
      tool: "shell",
      input: { argv: ["curl", "-H", `x-api-key: ${secret}`], env: { deep: [{ [secret]: secret }] } },
    });
    await log.append("tool_result", { id: "toolu_1", isError: true, output: `error: key ${secret} rejected` });
    await log.close();
    const file = await readFile(path, "utf8");
    assert.ok(!file.includes(secret), file);
    assert.ok(file.includes("x-api-key: [REDACTED]"));
    assert.equal((await verifyAuditFile(path)).ok, true);
  });

  it("rejects a circular data object without breaking the log", async () => {
    const path = fresh();
    const log = await AuditLog.open(path);
    const input: Record<string, unknown> = {};
    input.self = input;
    await assert.rejects(log.append("tool_call", { id: "t", tool: "x", input }), /circular/);
    await log.append("reasoning", { text: "still fine" });
    await log.close();
    assert.deepEqual(await verifyAuditFile(path), { ok: true, entries: 1, head: log.head });
  });
});

describe("AuditLog: a torn final line after a crash", () => {
  it("refuses to open, naming the file and the line", async () => {
    const path = fresh();
    await writeLog(path, 2);
    await appendFile(path, '{"seq":3,"time":"2026-');
    await assert.rejects(
      AuditLog.open(path),
      (err: Error) => err.message.includes(path) && err.message.includes("line 3 is torn"),
    );
  });

  it("with repairTornTail cuts the torn bytes off and records the repair in the chain", async () => {
    const path = fresh();
    await writeLog(path, 2);
    await appendFile(path, '{"seq":3,"time":"2026-');
    const log = await AuditLog.open(path, { repairTornTail: true });
    await log.append("reasoning", { text: "after the repair" });
    await log.close();
    const entries = await readAuditFile(path);
    assert.deepEqual(
      entries.map((e) => [e.seq, e.kind]),
      [
        [1, "reasoning"],
        [2, "reasoning"],
        [3, "session"],
        [4, "reasoning"],
      ],
    );
    assert.equal(entries[2]?.data.event, "repaired");
    assert.equal(entries[2]?.data.line, 3);
    assert.equal((await verifyAuditFile(path)).ok, true);
  });
});

describe("verifyAuditFile: names the first bad line", () => {
  const cases: [string, (lines: string[]) => string[], number, RegExp][] = [
    [
      "an edited middle line",
      (l) => l.map((x, i) => (i === 2 ? x.replace("step 3", "step 9") : x)),
      3,
      /content changed/,
    ],
    [
      "an edited last line",
      (l) => l.map((x, i) => (i === 4 ? x.replace("step 5", "step 9") : x)),
      5,
      /content changed/,
    ],
    ["a deleted line", (l) => l.filter((_, i) => i !== 2), 3, /1 entry before this line deleted/],
    ["two swapped lines", (l) => [l[0], l[2], l[1], l[3], l[4]].map(String), 2, /out of order \(seq 2 is on line 3\)/],
    ["a deleted first line", (l) => l.slice(1), 1, /deleted/],
  ];
  for (const [name, edit, line, reason] of cases) {
    it(`finds ${name} on line ${line}`, async () => {
      const path = fresh();
      await writeLog(path, 5);
      await rewrite(path, edit);
      const result = await verifyAuditFile(path);
      assert.equal(result.ok, false);
      assert.equal(!result.ok && result.line, line, JSON.stringify(result));
      assert.match(!result.ok ? result.reason : "", reason);
    });
  }

  it("names an edited line even when the editor recomputed its own hash (its successor's prevHash gives it away)", async () => {
    const path = fresh();
    await writeLog(path, 4);
    // Reformatting keeps the content hash valid but changes the bytes that line 3's prevHash covers.
    await rewrite(path, (l) => l.map((x, i) => (i === 1 ? x.replace('"data":{', '"data": {') : x)));
    assert.deepEqual(await verifyAuditFile(path), {
      ok: false,
      line: 2,
      reason: "content changed after it was written (line 3's prevHash does not match this line's bytes)",
    });
  });

  it("finds a torn (truncated) final line", async () => {
    const path = fresh();
    await writeLog(path, 3);
    const bytes = await readFile(path);
    await writeFile(path, bytes.subarray(0, bytes.length - 20));
    const result = await verifyAuditFile(path);
    assert.equal(!result.ok && result.line, 3);
    assert.match(!result.ok ? result.reason : "", /torn final line/);
  });

  it("finds lines cut off the end at a line boundary only with the anchor, and says how many", async () => {
    const path = fresh();
    const log = await AuditLog.open(path);
    for (let i = 0; i < 4; i++) await log.append("reasoning", { text: `t${i}` });
    await log.close();
    const anchor = log.syncedHead;
    assert.ok(anchor);
    await rewrite(path, (l) => l.slice(0, 2));
    assert.equal((await verifyAuditFile(path)).ok, true, "the chain alone cannot see this");
    const result = await verifyAuditFile(path, { expected: anchor });
    assert.equal(!result.ok && result.line, 3);
    assert.match(
      !result.ok ? result.reason : "",
      /^truncated: the remediation's status records entry 4 \(hash [0-9a-f]{12}…\), but the file ends at entry 2: 2 entries were cut off the end$/,
    );
  });

  it("lines written after the anchor are fine; a file replaced by another chain is not", async () => {
    const path = fresh();
    const log = await AuditLog.open(path);
    await log.append("reasoning", { text: "a" }, { sync: true });
    const anchor = log.syncedHead;
    await log.append("reasoning", { text: "b" });
    assert.deepEqual(log.syncedHead, anchor, "an unsynced line is not on disk yet: not the anchor");
    await log.close();
    assert.equal((await verifyAuditFile(path, { expected: anchor })).ok, true);

    const other = fresh();
    await writeLog(other, 3);
    const result = await verifyAuditFile(other, { expected: anchor });
    assert.equal(!result.ok && result.line, 1);
    assert.match(!result.ok ? result.reason : "", /rewritten or replaced/);
  });

  it("a missing file is a NotFoundError (no session yet), not a read failure", async () => {
    await assert.rejects(verifyAuditFile(fresh()), NotFoundError);
    await assert.rejects(readAuditFile(fresh()), NotFoundError);
  });
});

describe("renderAuditForPerson", () => {
  it("shows a realistic session as reasoning → tool call → policy → approval → result → verification", async () => {
    const path = fresh();
    let t = Date.parse("2026-01-28T10:54:48Z");
    const log = await AuditLog.open(path, { clock: () => new Date((t += 1000)) });
    await log.append("session", { event: "started", model: "claude-sonnet-5-5", mode: "approve", attempt: 1 });
    await log.append("reasoning", { text: "I need to investigate the etcd cluster.\nFirst, the containers." });
    await log.append("tool_call", { id: "toolu_1", tool: "docker_ps", input: { all: true } });
    await log.append("policy_decision", { id: "toolu_1", decision: "allow", reason: "read-only tool", stage: "mode" });
    await log.append("tool_result", {
      id: "toolu_1",
      isError: false,
      output: "NAMES  STATUS\netcd1  Exited (0)\netcd2  Up 3 minutes\n",
    });
    await log.append("tool_call", { id: "toolu_2", tool: "docker_start", input: { container: "etcd1" } });
    await log.append("policy_decision", {
      id: "toolu_2",
      decision: "ask",
      reason: "mutating tool",
      stage: "rule",
      rule: "docker start *",
    });
    await log.append("approval", { id: "toolu_2", approved: true, by: "alice" });
    await log.append("tool_result", { id: "toolu_2", isError: false, output: "etcd1", exitCode: 0 }, { sync: true });
    await log.append("verification", { cleared: true, details: "container/etcd1 running", phase: "Resolved" });
    await log.append("model_usage", {
      inputTokens: 1234,
      outputTokens: 210,
      cacheReadTokens: 900,
      cacheWriteTokens: 0,
      costUSD: 0.0061,
    });
    await log.close();
    const text = renderAuditForPerson(await readAuditFile(path));
    const order = [
      "2026-01-28 (UTC)",
      "10:54:49  session      started (model claude-sonnet-5-5, mode approve, attempt 1)",
      "10:54:50  reasoning    I need to investigate the etcd cluster.",
      "First, the containers.",
      'docker_ps {"all":true}',
      "policy       allow (read-only tool)",
      "result       output:",
      "etcd1  Exited (0)",
      'policy       ask — rule "docker start *" (mutating tool)',
      "approval     approved by alice (id toolu_2)",
      "result       etcd1 (exit 0)",
      "verification drift gone: container/etcd1 running → Resolved",
      "usage        1234 in / 210 out tokens, cache read 900, ~$0.0061",
    ];
    let at = 0;
    for (const piece of order) {
      const found = text.indexOf(piece, at);
      assert.ok(found >= 0, `expected ${JSON.stringify(piece)} after offset ${at} in:\n${text}`);
      at = found + piece.length;
    }
  });

  it("names the tool on each result of a turn with parallel calls, where results need not follow their calls", () => {
    const base = { seq: 1, time: "2026-01-28T10:00:00.000Z", prevHash: "0".repeat(64), hash: "0".repeat(64) };
    const text = renderAuditForPerson([
      { ...base, kind: "tool_call", data: { id: "a", tool: "docker_ps", input: {} } },
      { ...base, kind: "tool_call", data: { id: "b", tool: "docker_logs", input: { container: "etcd1" } } },
      { ...base, kind: "tool_result", data: { id: "b", isError: true, output: "no such container" } },
      { ...base, kind: "tool_result", data: { id: "a", isError: false, output: "etcd1" } },
      { ...base, kind: "tool_call", data: { id: "c", tool: "docker_start", input: { container: "etcd1" } } },
      { ...base, kind: "tool_result", data: { id: "c", isError: false, output: "etcd1", exitCode: 0 } },
    ]);
    assert.match(text, /result {7}\[docker_logs\] no such container \(error\)/);
    assert.match(text, /result {7}\[docker_ps\] etcd1\n/);
    assert.match(text, /result {7}etcd1 \(exit 0\)/, "a lone call's result is not labelled");
  });

  it("never throws on unknown kinds, missing fields or control characters", () => {
    const entry = { seq: 1, time: "2026-01-28T10:00:00.000Z", prevHash: "0".repeat(64), hash: "0".repeat(64) };
    const text = renderAuditForPerson([
      { ...entry, kind: "tool_result", data: { output: "\x1b[31mred\x1b[0m" } },
      { ...entry, kind: "approval", data: {} },
      { ...entry, kind: "future_kind" as "session", data: { x: 1 } },
    ]);
    assert.ok(!text.includes("\x1b"), text);
    assert.match(text, /denied by \?/);
    assert.match(text, /future_kind\s+\{"x":1\}/);
  });
});
