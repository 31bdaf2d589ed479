/**
 * Garbage in the Docker events stream (issue 6, item 3): however the bytes are chunked,
 * the splitter yields the lines a whole-stream split would; every line parses to an event,
 * an ignored event or `malformed`, never a throw; a huge line is dropped and reported with
 * a short preview while the splitter holds at most the limit.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { EventLineSplitter, parseDockerEvent, type SplitResult } from "../../../src/observe/docker/event-lines.js";
import { hostileText } from "../../support/hostile.js";

const MAX = 512;

/** Cuts `data` at the given offsets (taken modulo its length), in order. */
function chunked<T extends Buffer | string[]>(data: T, cuts: readonly number[]): T[] {
  const at = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const chunks: T[] = [];
  let start = 0;
  for (const cut of [...at, data.length]) {
    chunks.push(data.slice(start, cut) as T);
    start = cut;
  }
  return chunks;
}

function feed(chunks: readonly (Buffer | string)[], splitter: EventLineSplitter): SplitResult {
  const all: SplitResult = { lines: [], overlong: [] };
  const pending = (): number => Number(Reflect.get(splitter, "pendingBytes"));
  for (const result of [
    ...chunks.map((c) => {
      const r = splitter.push(c);
      assert.ok(pending() <= MAX, `holds ${pending()} bytes`);
      return r;
    }),
    splitter.end(),
  ]) {
    all.lines.push(...result.lines);
    all.overlong.push(...result.overlong);
  }
  return all;
}

/** The lines of the whole stream at once: split on \n, \r\n as one ending, blank lines skipped, overlong ones apart. */
function reference(text: string): { lines: string[]; overlong: number[] } {
  const lines: string[] = [];
  const overlong: number[] = [];
  for (const raw of text.split("\n")) {
    const bytes = Buffer.byteLength(raw);
    if (bytes > MAX) overlong.push(bytes);
    else if (raw.replace(/\r$/, "").trim() !== "") lines.push(raw.replace(/\r$/, ""));
  }
  return { lines, overlong };
}

const attributes = fc.dictionary(
  fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.constantFrom("name", "image", "exitCode", "__proto__", "com.docker.compose.service"),
  ),
  fc.oneof(hostileText(2), fc.string({ maxLength: 8 })),
  { maxKeys: 4 },
);
const event = fc
  .record(
    {
      Type: fc.constantFrom("container", "network", "image"),
      Action: fc.constantFrom("start", "die", "health_status: unhealthy", "exec_start: sh -c x", "destroy"),
      Actor: fc.record({ ID: fc.stringMatching(/^[0-9a-f]{12}$/), Attributes: attributes }),
      time: fc.integer({ min: 0, max: 2_000_000_000 }),
      timeNano: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    },
    { requiredKeys: ["Type", "Action", "Actor"] },
  )
  .map((e) => JSON.stringify(e));
const garbage = fc.oneof(
  hostileText(6),
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  event.map((e) => e.slice(0, Math.floor(e.length / 2))),
);
const ending = fc.constantFrom("\n", "\r\n", "\n\n", "\n \n");

describe("the Docker events stream, chunked any way (property)", () => {
  it("yields the same lines and events as splitting the whole stream at once", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.oneof(event, garbage), ending), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.boolean(),
        (lines, cuts, asStrings) => {
          const text = lines.map(([line, end]) => `${line}${end}`).join("");
          // Bytes cut anywhere (through a UTF-8 character too), or strings cut between
          // characters, as a stream with setEncoding delivers them.
          const input = asStrings
            ? chunked(Array.from(text), cuts).map((part) => part.join(""))
            : chunked(Buffer.from(text, "utf8"), cuts);
          const got = feed(input, new EventLineSplitter(MAX));
          const want = reference(Buffer.from(text, "utf8").toString("utf8"));
          assert.deepEqual(got.lines, want.lines);
          assert.deepEqual(
            got.overlong.map((o) => o.bytes),
            want.overlong,
          );
          assert.deepEqual(got.lines.map(parseDockerEvent), want.lines.map(parseDockerEvent));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a line over the limit is dropped and reported with a short preview, and the lines around it survive", () => {
    fc.assert(
      fc.property(
        event,
        fc.integer({ min: MAX + 1, max: MAX * 20 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.constantFrom("x", "é", "😀", "\x1b[2J"),
        (line, size, cuts, unit) => {
          const huge = unit.repeat(Math.ceil(size / Buffer.byteLength(unit)));
          const data = Buffer.from(`${line}\n${huge}\n${line}\n${huge}`);
          const got = feed(chunked(data, cuts), new EventLineSplitter(MAX));
          assert.deepEqual(got.lines, [line, line]);
          assert.deepEqual(
            got.overlong.map((o) => o.bytes),
            [Buffer.byteLength(huge), Buffer.byteLength(huge)],
          );
          for (const o of got.overlong) assert.ok(o.preview.length <= 200, `preview of ${o.preview.length}`);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("parseDockerEvent on garbage (property)", () => {
  it("never throws: a container event, an ignored event, or malformed with a reason", () => {
    fc.assert(
      fc.property(fc.oneof(garbage, event), (line) => {
        const parsed = parseDockerEvent(line);
        assert.ok(["container", "ignored", "malformed"].includes(parsed.kind));
        if (parsed.kind === "malformed") assert.ok(parsed.error.length > 0);
      }),
      { numRuns: 500 },
    );
  });

  it("a container event keeps every string attribute but Docker's own as a label, and an exit code only when it is an integer", () => {
    fc.assert(
      fc.property(
        attributes,
        fc.oneof(
          fc.constantFrom("137", "0", "-1", "", " ", "1.5", "0x10", "1e3", "abc"),
          fc.integer(),
          fc.boolean(),
          fc.constant(null),
        ),
        (attrs, exitCode) => {
          const Attributes = { ...attrs, exitCode };
          const parsed = parseDockerEvent(
            JSON.stringify({ Type: "container", Action: "die", Actor: { ID: "abc", Attributes }, time: 1 }),
          );
          assert.equal(parsed.kind, "container");
          if (parsed.kind !== "container") return;
          const expected = Object.entries(attrs).filter(
            ([k, v]) => typeof v === "string" && !["name", "image", "exitCode", "signal", "execID"].includes(k),
          );
          assert.deepEqual(Object.entries(parsed.event.labels), expected);
          const valid =
            (typeof exitCode === "number" && Number.isInteger(exitCode)) ||
            (typeof exitCode === "string" && /^-?\d+$/.test(exitCode));
          assert.equal(parsed.event.exitCode, valid ? Number(exitCode) : undefined, JSON.stringify(exitCode));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("the Docker events stream: regressions found by the properties", () => {
  const die = (Attributes: Record<string, unknown>): ReturnType<typeof parseDockerEvent> =>
    parseDockerEvent(JSON.stringify({ Type: "container", Action: "die", Actor: { ID: "abc", Attributes }, time: 1 }));

  it("a label named __proto__ is kept", () => {
    const parsed = parseDockerEvent(
      '{"Type":"container","Action":"die","Actor":{"ID":"abc","Attributes":{"__proto__":"x"}},"time":1}',
    );
    assert.ok(parsed.kind === "container");
    assert.deepEqual(Object.entries(parsed.event.labels), [["__proto__", "x"]]);
  });

  for (const exitCode of ["", " ", "0x10", "1e3", true, null] as const) {
    it(`an exit code of ${JSON.stringify(exitCode)} is no exit code (was read as a number)`, () => {
      const parsed = die({ exitCode });
      assert.ok(parsed.kind === "container");
      assert.equal(parsed.event.exitCode, undefined);
    });
  }
});
