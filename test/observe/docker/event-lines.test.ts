import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  EventLineSplitter,
  MAX_EVENT_LINE_BYTES,
  parseDockerEvent,
  type SplitResult,
} from "../../../src/observe/docker/event-lines.js";

/** A real line from Docker 20.10 (`docker events --format '{{json .}}'` has the same shape). */
const DIE = JSON.stringify({
  status: "die",
  id: "5180c0f267f7aa",
  from: "steward-test/busybox:latest",
  Type: "container",
  Action: "die",
  Actor: {
    ID: "5180c0f267f7aa",
    Attributes: { exitCode: "137", image: "steward-test/busybox:latest", name: "web-1", "steward.test": "true" },
  },
  scope: "local",
  time: 1763967827,
  timeNano: 1763967827123456800,
});
const START = DIE.replaceAll("die", "start").replace('"exitCode":"137",', "");
const NETWORK = JSON.stringify({ Type: "network", Action: "connect", Actor: { ID: "n1", Attributes: {} }, time: 1 });

function feed(chunks: readonly (Buffer | string)[], splitter = new EventLineSplitter()): SplitResult {
  const all: SplitResult = { lines: [], overlong: [] };
  for (const chunk of [...chunks.map((c) => splitter.push(c)), splitter.end()]) {
    all.lines.push(...chunk.lines);
    all.overlong.push(...chunk.overlong);
  }
  return all;
}

void describe("EventLineSplitter", () => {
  const cases: { name: string; chunks: (Buffer | string)[]; lines: string[] }[] = [
    { name: "one event per chunk", chunks: [`${DIE}\n`, `${START}\n`], lines: [DIE, START] },
    { name: "several events in one chunk", chunks: [`${DIE}\n${START}\n${DIE}\n`], lines: [DIE, START, DIE] },
    { name: "blank and whitespace-only lines are skipped", chunks: [`\n\n${DIE}\n \n\r\n`], lines: [DIE] },
    { name: "CRLF line endings", chunks: [`${DIE}\r\n${START}\r\n`], lines: [DIE, START] },
    { name: "a final line without newline is flushed at end()", chunks: [`${DIE}\n${START}`], lines: [DIE, START] },
    { name: "an empty chunk changes nothing", chunks: ["", `${DIE}\n`, Buffer.alloc(0)], lines: [DIE] },
    {
      name: "a string chunk and a Buffer chunk mix",
      chunks: [DIE.slice(0, 10), Buffer.from(`${DIE.slice(10)}\n`)],
      lines: [DIE],
    },
  ];
  for (const c of cases) {
    void it(`yields complete lines: ${c.name}`, () => {
      assert.deepEqual(feed(c.chunks), { lines: c.lines, overlong: [] });
    });
  }

  void it("yields the same lines when two events are split at every byte offset", () => {
    const data = Buffer.from(`${DIE}\n${START}\n`);
    for (let at = 0; at <= data.length; at++) {
      const result = feed([data.subarray(0, at), data.subarray(at)]);
      assert.deepEqual(result.lines, [DIE, START], `split at byte ${at}`);
    }
  });

  void it("keeps a multi-byte UTF-8 character whole when a chunk boundary cuts through it", () => {
    const line = JSON.stringify({ Type: "container", name: "café-€-😀" });
    const data = Buffer.from(`${line}\n`);
    for (let at = 0; at <= data.length; at++) {
      const result = feed([data.subarray(0, at), data.subarray(at)]);
      assert.deepEqual(result.lines, [line], `split at byte ${at}`);
    }
    // One byte per chunk: the worst case, every character cut.
    assert.deepEqual(feed([...data].map((b) => Buffer.of(b))).lines, [line]);
  });

  void it("drops and reports a line over the limit, then carries on with the next line", () => {
    const huge = "x".repeat(MAX_EVENT_LINE_BYTES + 10);
    const result = feed([`${DIE}\n`, huge.slice(0, 600_000), `${huge.slice(600_000)}\n${START}\n`]);
    assert.deepEqual(result.lines, [DIE, START]);
    assert.equal(result.overlong.length, 1);
    assert.equal(result.overlong[0]?.bytes, huge.length);
    assert.equal(result.overlong[0]?.preview, "x".repeat(200));
  });

  void it("keeps a line of exactly the limit", () => {
    const max = "y".repeat(16);
    assert.deepEqual(feed([`${max}\n`, `${max}z\n`], new EventLineSplitter(16)), {
      lines: [max],
      overlong: [{ bytes: 17, preview: `${max}z` }],
    });
  });

  void it("reports an overlong line that the stream ended in the middle of", () => {
    const result = feed(["z".repeat(40)], new EventLineSplitter(16));
    assert.deepEqual(result, { lines: [], overlong: [{ bytes: 40, preview: "z".repeat(40) }] });
  });
});

void describe("parseDockerEvent", () => {
  void it("parses a container event with labels, name, exit code and nanosecond time", () => {
    assert.deepEqual(parseDockerEvent(DIE), {
      kind: "container",
      event: {
        id: "5180c0f267f7aa",
        action: "die",
        time: 1763967827123456800,
        name: "web-1",
        exitCode: 137,
        labels: { "steward.test": "true" },
      },
    });
  });

  void it("keeps a health action as Docker spells it", () => {
    const line = DIE.replaceAll('"die"', '"health_status: unhealthy"');
    const parsed = parseDockerEvent(line);
    assert.equal(parsed.kind === "container" && parsed.event.action, "health_status: unhealthy");
  });

  void it("falls back to `time` in seconds when `timeNano` is missing", () => {
    const parsed = parseDockerEvent(
      JSON.stringify({ Type: "container", Action: "start", Actor: { ID: "a" }, time: 12 }),
    );
    assert.deepEqual(parsed, { kind: "container", event: { id: "a", action: "start", time: 12e9, labels: {} } });
  });

  void it("ignores events about other object types", () => {
    assert.deepEqual(parseDockerEvent(NETWORK), { kind: "ignored", type: "network" });
  });

  const malformed: { name: string; line: string; error: RegExp }[] = [
    { name: "not JSON", line: "{not json", error: /^not JSON/ },
    { name: "half an event", line: DIE.slice(0, 40), error: /^not JSON/ },
    { name: "a JSON array", line: "[1,2]", error: /not a JSON object/ },
    { name: "a JSON string", line: '"die"', error: /not a JSON object/ },
    { name: "null", line: "null", error: /not a JSON object/ },
    { name: "no Type", line: '{"Action":"die"}', error: /no Type/ },
    { name: "no Actor", line: '{"Type":"container","Action":"die","time":1}', error: /no Actor.ID/ },
    { name: "no Action", line: '{"Type":"container","Actor":{"ID":"a"},"time":1}', error: /no Action/ },
    { name: "no time", line: '{"Type":"container","Action":"die","Actor":{"ID":"a"}}', error: /no timeNano or time/ },
  ];
  for (const c of malformed) {
    void it(`reports, never throws, for ${c.name}`, () => {
      const parsed = parseDockerEvent(c.line);
      assert.equal(parsed.kind, "malformed");
      assert.match(parsed.kind === "malformed" ? parsed.error : "", c.error);
    });
  }
});
