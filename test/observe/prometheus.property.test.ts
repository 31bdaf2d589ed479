/**
 * HttpPrometheusClient against a real HTTP server on 127.0.0.1 that answers with generated
 * garbage (issue 6, item 3): wrong JSON shapes, NaN/Inf and other value strings, bodies
 * beyond the cap with and without Content-Length, truncated bodies, wrong content types
 * and status codes, deep nesting, huge error texts, a slow drip. Every query resolves,
 * never throws: `ok: false` with a short, single-line reason naming the URL, or exactly
 * the samples the body holds.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { HttpPrometheusClient, parseSampleValue } from "../../src/observe/prometheus.js";
import type { QueryResult, Sample } from "../../src/observe/types.js";
import { hostileText } from "../support/hostile.js";

/** One scripted answer. */
interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** `end`: send it all; `cut`: declare more than is sent, then drop the connection; `drip`: a byte at a time, never finishing. */
  delivery: "end" | "cut" | "drip";
}

class GarbagePrometheus {
  private readonly server: Server = createServer((req, res) => this.handle(req, res));
  private readonly answers = new Map<string, Answer>();
  private next = 0;
  url = "";

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("no address");
    this.url = `http://127.0.0.1:${address.port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The query that gets `answer`. */
  script(answer: Answer): string {
    const query = `q${this.next++}`;
    this.answers.set(query, answer);
    return query;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const query = new URLSearchParams(Buffer.concat(chunks).toString("utf8")).get("query") ?? "";
      const answer = this.answers.get(query);
      this.answers.delete(query);
      if (!answer) return void res.writeHead(404).end();
      res.on("error", () => undefined);
      if (answer.delivery === "end") return void res.writeHead(answer.status, answer.headers).end(answer.body);
      if (answer.delivery === "cut") {
        res.writeHead(answer.status, { ...answer.headers, "content-length": String(answer.body.length + 100) });
        res.write(answer.body, () => res.destroy());
        return;
      }
      res.writeHead(answer.status, answer.headers);
      const drip = (i: number): void => {
        if (res.destroyed) return;
        res.write(answer.body.subarray(i % answer.body.length, (i % answer.body.length) + 1));
        setTimeout(() => drip(i + 1), 20);
      };
      drip(0);
    });
  }
}

const CAP = 8 * 1024;
/** Every reason starts with this; the rest is one line of bounded length. */
let prefix = "";

function assertReason(result: QueryResult): string {
  assert.ok(!result.ok, `expected a failure, got ${JSON.stringify(result)}`);
  assert.ok(result.error.startsWith(prefix), result.error);
  assert.ok(result.error.length <= prefix.length + 600, `reason of ${result.error.length} characters`);
  // eslint-disable-next-line no-control-regex -- a reason goes into conditions and logs: no control characters
  assert.doesNotMatch(result.error, /[\x00-\x1f\x7f-\x9f]/, JSON.stringify(result.error));
  return result.error;
}

// Value strings: Prometheus's spellings and what they mean, and strings no Prometheus sends.
const GOOD_VALUES: [string, number][] = [
  ["1", 1],
  ["0", 0],
  ["-0", -0],
  ["0.5", 0.5],
  ["-2.25", -2.25],
  ["1e+06", 1e6],
  ["1.5e-07", 1.5e-7],
  ["5e-324", 5e-324],
  ["1.7976931348623157e+308", 1.7976931348623157e308],
  ["123456789012345680000", 123456789012345680000],
  ["NaN", NaN],
  ["+Inf", Infinity],
  ["-Inf", -Infinity],
];
const BAD_VALUES = [
  "",
  " ",
  "abc",
  "Infinity",
  "-Infinity",
  "inf",
  "nan",
  "NAN",
  "1_000",
  "1e",
  "--1",
  "\u0661",
  "1,5",
  "0x10",
  "0b1",
  "0o7",
  " 1",
  "1 ",
  "1\n",
  "+-1",
  ".",
  "e5",
];

const labelName = fc.oneof(
  fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,10}$/),
  fc.constantFrom("__name__", "__proto__", "constructor", "toString", "job"),
);
const labels = fc.dictionary(labelName, fc.oneof(hostileText(3), fc.string()), { maxKeys: 4 });
const goodSample = fc.tuple(labels, fc.constantFrom(...GOOD_VALUES), fc.double({ noNaN: true }));

function vectorBody(samples: readonly [Record<string, string>, [string, number], number][]): string {
  return JSON.stringify({
    status: "success",
    data: { resultType: "vector", result: samples.map(([metric, [value], ts]) => ({ metric, value: [ts, value] })) },
  });
}

function assertSamples(
  result: QueryResult,
  expected: readonly [Record<string, string>, [string, number], number][],
): void {
  assert.ok(result.ok, result.ok ? "" : result.error);
  const got: Sample[] = result.samples;
  assert.equal(got.length, expected.length);
  got.forEach((sample, i) => {
    const [metric, [, value]] = expected[i] ?? [{}, ["", 0]];
    assert.deepEqual(Object.entries(sample.labels), Object.entries(metric));
    assert.ok(Object.is(sample.value, value), `${sample.value} != ${value}`);
  });
}

describe("HttpPrometheusClient against generated garbage over real HTTP (property)", () => {
  const server = new GarbagePrometheus();
  let client: HttpPrometheusClient;
  before(async () => {
    await server.start();
    client = new HttpPrometheusClient({ baseUrl: server.url, timeoutMs: 2_000, maxResponseBytes: CAP });
    prefix = `Prometheus at ${client.endpoint}: `;
  });
  after(() => server.close());

  const ask = (answer: Answer): Promise<QueryResult> => client.query(server.script(answer));
  const json = (body: string, status = 200): Answer => ({
    status,
    headers: { "content-type": "application/json" },
    body: Buffer.from(body),
    delivery: "end",
  });

  it("a well-formed vector comes back exactly: labels (any text, any name) and values as Prometheus spells them", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(goodSample, { maxLength: 5 }), async (samples) => {
        const body = vectorBody(samples);
        fc.pre(Buffer.byteLength(body) <= CAP);
        assertSamples(await ask(json(body)), samples);
      }),
      { numRuns: 100 },
    );
  });

  it("a value string no Prometheus sends fails the query, naming the value", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...BAD_VALUES), labels, async (value, metric) => {
        const reason = assertReason(
          await ask(
            json(
              JSON.stringify({
                status: "success",
                data: { resultType: "vector", result: [{ metric, value: [1, value] }] },
              }),
            ),
          ),
        );
        assert.match(reason, /is not a number/);
      }),
      { numRuns: 60 },
    );
  });

  it("any JSON value, or a valid answer with any value at any place, fails with a reason or parses to well-typed samples", async () => {
    const garbage = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.record(
        {
          status: fc.constantFrom("success", "error", 1),
          data: fc.jsonValue({ maxDepth: 3 }),
          error: fc.oneof(fc.jsonValue(), hostileText(8)),
          errorType: fc.jsonValue(),
        },
        { requiredKeys: ["status"] },
      ),
      fc.record({
        status: fc.constant("success"),
        data: fc.record(
          {
            resultType: fc.constantFrom("vector", "scalar", "matrix", "string", "__proto__", 7),
            result: fc.oneof(
              fc.jsonValue({ maxDepth: 3 }),
              fc.array(
                fc.record(
                  {
                    metric: fc.jsonValue({ maxDepth: 2 }),
                    value: fc.jsonValue({ maxDepth: 2 }),
                    histogram: fc.jsonValue({ maxDepth: 1 }),
                  },
                  { requiredKeys: [] },
                ),
                { maxLength: 3 },
              ),
            ),
          },
          { requiredKeys: [] },
        ),
      }),
    );
    await fc.assert(
      fc.asyncProperty(garbage, fc.constantFrom(200, 400, 422, 500, 503), async (value, status) => {
        const body = JSON.stringify(value) ?? "null";
        fc.pre(Buffer.byteLength(body) <= CAP);
        const result = await ask(json(body, status));
        if (!result.ok) return void assertReason(result);
        assert.equal(status, 200);
        for (const s of result.samples) {
          assert.equal(typeof s.value, "number");
          for (const v of Object.values(s.labels)) assert.equal(typeof v, "string");
        }
      }),
      { numRuns: 150 },
    );
  });

  it("bytes that are not JSON, under any status and content type, fail with a reason", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
          hostileText(10).map((t) => Buffer.from(t)),
          fc
            .constantFrom("<html>Bad Gateway</html>", "{", "", "null", "[]", '"str"', '{"status":"success"')
            .map((t) => Buffer.from(t)),
        ),
        fc.constantFrom(200, 204, 400, 404, 500, 502),
        fc.constantFrom(
          "application/json",
          "text/html",
          "text/plain; charset=iso-8859-1",
          "application/octet-stream",
          "",
        ),
        async (body, status, type) => {
          fc.pre(!(status === 200 && /^\s*\{.*"resultType"/.test(body.toString())));
          const headers: Record<string, string> = type === "" ? {} : { "content-type": type };
          assertReason(await ask({ status, headers, body, delivery: "end" }));
        },
      ),
      { numRuns: 100 },
    );
  });

  it("a body over the cap fails, declared or not, without reading it whole", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: CAP + 1, max: CAP * 8 }), fc.boolean(), async (size, declared) => {
        const body = Buffer.alloc(size, "[");
        const headers: Record<string, string> = {
          "content-type": "application/json",
          ...(declared ? { "content-length": String(size) } : {}),
        };
        assert.match(
          assertReason(await ask({ status: 200, headers, body, delivery: "end" })),
          /larger than 8192 bytes/,
        );
      }),
      { numRuns: 20 },
    );
  });

  it("a body cut short (the connection drops before Content-Length is reached) fails with a reason", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(goodSample, { minLength: 1, maxLength: 3 }), fc.nat(), async (samples, at) => {
        const body = Buffer.from(vectorBody(samples));
        fc.pre(body.length <= CAP);
        assertReason(
          await ask({
            status: 200,
            headers: { "content-type": "application/json" },
            body: body.subarray(0, at % body.length),
            delivery: "cut",
          }),
        );
      }),
      { numRuns: 30 },
    );
  });
});

describe("HttpPrometheusClient against garbage: regressions found by the properties", () => {
  const server = new GarbagePrometheus();
  let client: HttpPrometheusClient;
  before(async () => {
    await server.start();
    client = new HttpPrometheusClient({ baseUrl: server.url, timeoutMs: 2_000, maxResponseBytes: CAP });
    prefix = `Prometheus at ${client.endpoint}: `;
  });
  after(() => server.close());
  const ask = (status: number, body: string): Promise<QueryResult> =>
    client.query(
      server.script({
        status,
        headers: { "content-type": "application/json" },
        body: Buffer.from(body),
        delivery: "end",
      }),
    );

  it("a label named __proto__ is kept as a label", async () => {
    const result = await ask(
      200,
      '{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__proto__":"x","job":"a"},"value":[1,"1"]}]}}',
    );
    assert.ok(result.ok);
    assert.deepEqual(Object.entries(result.samples[0]?.labels ?? {}), [
      ["__proto__", "x"],
      ["job", "a"],
    ]);
  });

  it("a huge error text is cut to a snippet", async () => {
    const reason = assertReason(
      await ask(400, JSON.stringify({ status: "error", errorType: "bad_data", error: "x".repeat(7_000) })),
    );
    assert.match(reason, /bad_data: x+…$/);
  });

  it("control characters in an error text or type are not passed on", async () => {
    assert.match(
      assertReason(await ask(422, JSON.stringify({ status: "error", errorType: "\x1b[31mexec", error: "a\nb\x9bc" }))),
      // Whole sequences go (stripControl): ESC [ 31 m, and the C1 CSI "\x9b c".
      /exec: a b$/,
    );
  });

  it("a body of one NUL byte: the JSON parser's message does not carry it", async () => {
    assert.match(assertReason(await ask(200, "\u0000")), /malformed JSON in the response/);
  });

  it("a label name in a malformed answer is quoted and cut", async () => {
    assertReason(
      await ask(
        200,
        JSON.stringify({
          status: "success",
          data: {
            resultType: "vector",
            result: [{ metric: { [`\x1b]0;x\x07${"n".repeat(5_000)}`]: 1 }, value: [1, "1"] }],
          },
        }),
      ),
    );
  });

  it("a value pair nested 100 000 deep fails as malformed, not as a stack overflow", async () => {
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    const client2 = new HttpPrometheusClient({ baseUrl: server.url, maxResponseBytes: 1 << 20 });
    const result = await client2.query(
      server.script({
        status: 200,
        headers: {},
        body: Buffer.from(`{"status":"success","data":{"resultType":"scalar","result":${deep}}}`),
        delivery: "end",
      }),
    );
    assert.ok(!result.ok);
    assert.match(result.error, /malformed response: expected a \[timestamp, "value"\] pair/);
  });

  it("hex, binary and padded numbers are not sample values", () => {
    for (const text of ["0x10", "0b1", "0o7", " 1", "1 ", "1\n"]) assert.equal(parseSampleValue(text), undefined, text);
  });

  it("a body that drips a byte at a time gives up at the timeout", async () => {
    const slow = new HttpPrometheusClient({ baseUrl: server.url, timeoutMs: 200, maxResponseBytes: CAP });
    const result = await slow.query(
      server.script({
        status: 200,
        headers: { "content-type": "application/json" },
        body: Buffer.from(vectorBody([[{}, ["1", 1], 1]])),
        delivery: "drip",
      }),
    );
    assert.match(assertReason(result), /timeout after 200 ms/);
  });
});
