import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { getEventListeners } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { HttpPrometheusClient } from "../../src/observe/prometheus.js";
import type { QueryResult, Sample } from "../../src/observe/types.js";

const PROMETHEUS_BIN = "/usr/bin/prometheus";

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

function samplesOf(result: QueryResult): Sample[] {
  assert.ok(result.ok, `expected success, got: ${result.ok ? "" : result.error}`);
  return result.samples;
}

function errorOf(result: QueryResult): string {
  assert.ok(!result.ok, `expected a failure, got ${JSON.stringify(result)}`);
  return result.error;
}

const vector = (result: unknown[]): string =>
  JSON.stringify({ status: "success", data: { resultType: "vector", result } });

void describe("HttpPrometheusClient configuration", () => {
  void it("accepts loopback hosts", () => {
    for (const baseUrl of [
      "http://127.0.0.1:9090",
      "http://127.1.2.3:9090/",
      "http://localhost:9090",
      "http://[::1]:9090",
      "https://LOCALHOST",
    ]) {
      assert.doesNotThrow(() => new HttpPrometheusClient({ baseUrl }), baseUrl);
    }
  });

  void it("refuses a host outside loopback unless allowNonLoopback is set", () => {
    for (const baseUrl of [
      "http://10.0.0.1:9090",
      "http://prometheus:9090",
      "http://128.0.0.1",
      "http://[::2]:9090",
      "http://0.0.0.0:9090",
    ]) {
      assert.throws(() => new HttpPrometheusClient({ baseUrl }), /not a loopback address/, baseUrl);
    }
    assert.doesNotThrow(() => new HttpPrometheusClient({ baseUrl: "http://prometheus:9090", allowNonLoopback: true }));
  });

  void it("refuses a baseUrl that is not an http URL or carries credentials", () => {
    assert.throws(() => new HttpPrometheusClient({ baseUrl: "127.0.0.1:9090" }), /not a URL|http: or https:/);
    assert.throws(() => new HttpPrometheusClient({ baseUrl: "ftp://127.0.0.1" }), /http: or https:/);
    assert.throws(() => new HttpPrometheusClient({ baseUrl: "http://u:p@127.0.0.1" }), /credentials/);
  });

  void it("appends the API path to the base URL, keeping a path prefix", () => {
    assert.equal(
      new HttpPrometheusClient({ baseUrl: "http://127.0.0.1:9090" }).endpoint,
      "http://127.0.0.1:9090/api/v1/query",
    );
    assert.equal(
      new HttpPrometheusClient({ baseUrl: "http://127.0.0.1:9090/prom/" }).endpoint,
      "http://127.0.0.1:9090/prom/api/v1/query",
    );
  });

  void it("refuses non-positive limits", () => {
    assert.throws(() => new HttpPrometheusClient({ baseUrl: "http://127.0.0.1", timeoutMs: 0 }), /timeoutMs/);
    assert.throws(
      () => new HttpPrometheusClient({ baseUrl: "http://127.0.0.1", maxResponseBytes: -1 }),
      /maxResponseBytes/,
    );
  });
});

/**
 * A stand-in that speaks Prometheus's HTTP shapes; the `query` form field picks the answer.
 * Used for failures a real Prometheus will not produce on demand.
 */
class CannedPrometheus {
  readonly server: Server = createHttpServer((req, res) => this.handle(req, res));
  readonly requests: { method: string; path: string; contentType: string; form: URLSearchParams }[] = [];
  inFlight = 0;
  peakInFlight = 0;
  hugeBodyClosed = false;
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

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      this.requests.push({
        method: req.method ?? "",
        path: req.url ?? "",
        contentType: req.headers["content-type"] ?? "",
        form,
      });
      this.inFlight++;
      this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
      res.on("close", () => this.inFlight--);
      this.answer(form.get("query") ?? "", res);
    });
  }

  private answer(query: string, res: ServerResponse): void {
    const json = (status: number, body: string): void => {
      res.writeHead(status, { "content-type": "application/json" }).end(body);
    };
    switch (query) {
      case "labelled":
        return json(
          200,
          vector([
            { metric: { __name__: "up", job: "etcd", instance: "127.0.0.1:2379" }, value: [1700000000.123, "1"] },
            { metric: { job: "etcd" }, value: [1700000000.123, "NaN"] },
            { metric: {}, value: [1700000000.123, "+Inf"] },
            { metric: {}, value: [1700000000.123, "-Inf"] },
            { metric: {}, value: [1700000000.123, "1e+06"] },
          ]),
        );
      case "scalar":
        return json(
          200,
          JSON.stringify({ status: "success", data: { resultType: "scalar", result: [1700000000, "2.5"] } }),
        );
      case "matrix":
        return json(200, JSON.stringify({ status: "success", data: { resultType: "matrix", result: [] } }));
      case "not-a-number":
        return json(200, vector([{ metric: {}, value: [1, "abc"] }]));
      case "malformed":
        return json(200, '{"status":"success","data":{"resultType":"vec');
      case "bad-request":
        return json(
          400,
          JSON.stringify({
            status: "error",
            errorType: "bad_data",
            error: 'invalid parameter "query": 1:5: parse error: unclosed left parenthesis',
          }),
        );
      case "html-502":
        res.writeHead(502, { "content-type": "text/html" }).end("<html><body>Bad Gateway</body></html>");
        return;
      case "redirect":
        res.writeHead(302, { location: "http://198.51.100.7/api/v1/query" }).end();
        return;
      case "huge-declared":
        res.writeHead(200, { "content-type": "application/json", "content-length": String(10_000_000) });
        res.write("{");
        return;
      case "huge-stream":
        return this.streamForever(res);
      case "hang":
        return; // never answers
      case "slow":
        setTimeout(() => json(200, vector([{ metric: {}, value: [1, "1"] }])), 100);
        return;
      default:
        json(200, vector([{ metric: {}, value: [1, "7"] }]));
    }
  }

  /** Writes JSON-looking bytes until the client goes away; the test fails by timeout if it never does. */
  private streamForever(res: ServerResponse): void {
    res.writeHead(200, { "content-type": "application/json" });
    res.write('{"status":"success","data":{"resultType":"vector","result":[');
    const chunk = `${'{"metric":{},"value":[1,"1"]},'.repeat(1000)}`;
    const pump = (): void => {
      while (!res.destroyed && res.write(chunk)) {
        /* fill the socket buffer */
      }
      if (!res.destroyed) res.once("drain", pump);
    };
    res.on("close", () => (this.hugeBodyClosed = true));
    pump();
  }
}

void describe("HttpPrometheusClient against a canned Prometheus over real HTTP", () => {
  const canned = new CannedPrometheus();
  let client: HttpPrometheusClient;
  before(async () => {
    await canned.start();
    client = new HttpPrometheusClient({ baseUrl: canned.url, timeoutMs: 300, maxResponseBytes: 64 * 1024 });
  });
  after(() => canned.close());

  void it("POSTs the query form-encoded to /api/v1/query, with the timeout in seconds", async () => {
    samplesOf(await client.query('sum(rate(x{job="a b"}[5m])) > 0'));
    const request = canned.requests.at(-1);
    assert.equal(request?.method, "POST");
    assert.equal(request?.path, "/api/v1/query");
    assert.equal(request?.contentType, "application/x-www-form-urlencoded");
    assert.equal(request?.form.get("query"), 'sum(rate(x{job="a b"}[5m])) > 0');
    assert.equal(request?.form.get("timeout"), "0.3");
  });

  void it("parses a vector with labels and Prometheus's spelling of NaN, ±Inf and exponents", async () => {
    const samples = samplesOf(await client.query("labelled"));
    assert.deepEqual(
      samples.map((s) => s.value),
      [1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e6],
    );
    assert.deepEqual(samples[0]?.labels, { __name__: "up", job: "etcd", instance: "127.0.0.1:2379" });
  });

  void it("turns a scalar into one sample without labels", async () => {
    assert.deepEqual(samplesOf(await client.query("scalar")), [{ labels: {}, value: 2.5 }]);
  });

  void it("refuses a matrix result", async () => {
    assert.match(errorOf(await client.query("matrix")), /returned a matrix; expected an instant vector or scalar/);
  });

  void it("reports malformed JSON, naming the URL", async () => {
    const error = errorOf(await client.query("malformed"));
    assert.ok(error.startsWith(`Prometheus at ${canned.url}/api/v1/query: `), error);
    assert.match(error, /malformed JSON/);
  });

  void it("reports a sample value that is not a number", async () => {
    assert.match(errorOf(await client.query("not-a-number")), /sample value "abc" is not a number/);
  });

  void it("reports HTTP 400 with Prometheus's error type and text", async () => {
    const error = errorOf(await client.query("bad-request"));
    assert.match(
      error,
      /HTTP 400 Bad Request: bad_data: invalid parameter "query": 1:5: parse error: unclosed left parenthesis/,
    );
  });

  void it("reports a non-JSON error page with a snippet of its body", async () => {
    assert.match(
      errorOf(await client.query("html-502")),
      /HTTP 502 Bad Gateway: <html><body>Bad Gateway<\/body><\/html>/,
    );
  });

  void it("does not follow a redirect, which could lead off loopback", async () => {
    assert.match(
      errorOf(await client.query("redirect")),
      /HTTP 302 Found: unexpected redirect to http:\/\/198\.51\.100\.7/,
    );
  });

  void it("fails at once when Content-Length exceeds maxResponseBytes", async () => {
    assert.match(errorOf(await client.query("huge-declared")), /response larger than 65536 bytes/);
  });

  void it("stops reading an endless body past maxResponseBytes and closes the connection", async () => {
    assert.match(errorOf(await client.query("huge-stream")), /response larger than 65536 bytes/);
    await waitFor("the server to see the connection closed", 5_000, () =>
      Promise.resolve(canned.hugeBodyClosed || undefined),
    );
  });

  void it("gives up on a server that never answers, naming the timeout", async () => {
    const started = Date.now();
    const error = errorOf(await client.query("hang"));
    assert.match(error, /timeout after 300 ms/);
    assert.ok(Date.now() - started < 2_000, "the timeout must cut the request short");
  });

  void it("tells the caller's abort apart from its own timeout", async () => {
    const error = errorOf(await client.query("hang", AbortSignal.timeout(50)));
    assert.match(error, /aborted by the caller/);
  });

  void it("leaves no listeners on a long-lived caller signal", async () => {
    const shutdown = new AbortController();
    for (let i = 0; i < 5; i++) samplesOf(await client.query("up", shutdown.signal));
    errorOf(await client.query("malformed", shutdown.signal));
    assert.equal(getEventListeners(shutdown.signal, "abort").length, 0);
  });

  void it("reports connection refused on a closed port", async () => {
    const port = await freePort();
    const refused = new HttpPrometheusClient({ baseUrl: `http://127.0.0.1:${port}` });
    const error = errorOf(await refused.query("up"));
    assert.equal(
      error,
      `Prometheus at http://127.0.0.1:${port}/api/v1/query: connection refused; is Prometheus running and listening there?`,
    );
  });

  void it("never has more than maxConcurrent queries in flight at the server", async () => {
    const bounded = new HttpPrometheusClient({ baseUrl: canned.url, maxConcurrent: 2 });
    canned.peakInFlight = 0;
    const results = await Promise.all(Array.from({ length: 10 }, () => bounded.query("slow")));
    assert.ok(
      results.every((r) => r.ok),
      JSON.stringify(results),
    );
    assert.equal(canned.peakInFlight, 2);
  });

  void it("lets a queued query be aborted before it gets a slot", async () => {
    const single = new HttpPrometheusClient({ baseUrl: canned.url, maxConcurrent: 1, timeoutMs: 500 });
    const hanging = single.query("hang");
    const queued = await single.query("up", AbortSignal.timeout(50));
    assert.match(errorOf(queued), /aborted before a connection slot was free/);
    assert.match(errorOf(await hanging), /timeout after 500 ms/);
  });
});

/** Debian's Prometheus on a free loopback port, scraping only itself every second. */
class RealPrometheus {
  url = "";
  port = 0;
  private child: ChildProcess | undefined;
  private dir = "";
  private log = "";
  private exited: string | undefined;

  async start(): Promise<void> {
    if (!existsSync(PROMETHEUS_BIN)) {
      throw new Error(`${PROMETHEUS_BIN} is missing; install it with: apt-get install -y prometheus`);
    }
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.dir = await mkdtemp(join(tmpdir(), "steward-prometheus-"));
    const config = [
      "global: {scrape_interval: 1s, evaluation_interval: 1s}",
      "scrape_configs:",
      "  - job_name: prometheus",
      `    static_configs: [{targets: ["127.0.0.1:${this.port}"]}]`,
    ].join("\n");
    await writeFile(join(this.dir, "prometheus.yml"), `${config}\n`);
    this.child = spawn(
      PROMETHEUS_BIN,
      [
        `--config.file=${join(this.dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(this.dir, "data")}`,
        `--web.listen-address=127.0.0.1:${this.port}`,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const keep = (chunk: Buffer): void => void (this.log = (this.log + chunk.toString("utf8")).slice(-4_000));
    this.child.stdout?.on("data", keep);
    this.child.stderr?.on("data", keep);
    this.child.on("exit", (code, signal) => (this.exited = `exited with ${signal ?? code}`));
    await waitFor("Prometheus to be ready", 30_000, () => this.ready());
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await gone;
      clearTimeout(timer);
    }
    if (this.dir !== "") await rm(this.dir, { recursive: true, force: true });
  }

  private async ready(): Promise<true | undefined> {
    if (this.exited !== undefined) throw new Error(`Prometheus ${this.exited} before it was ready:\n${this.log}`);
    try {
      const response = await fetch(`${this.url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      return response.ok || undefined;
    } catch {
      return undefined;
    }
  }
}

void describe("HttpPrometheusClient against a real Prometheus", () => {
  const prometheus = new RealPrometheus();
  let client: HttpPrometheusClient;
  before(async () => {
    await prometheus.start();
    client = new HttpPrometheusClient({ baseUrl: prometheus.url });
  });
  after(() => prometheus.stop());

  void it("returns `up` for its own scrape target, with its labels", async () => {
    // Prometheus hands new targets to the scrape manager on a 5 s tick, so the first scrape can take a while.
    const samples = await waitFor("the first self-scrape", 20_000, async () => {
      const found = samplesOf(await client.query("up"));
      return found.length > 0 ? found : undefined;
    });
    assert.deepEqual(samples, [
      { labels: { __name__: "up", job: "prometheus", instance: `127.0.0.1:${prometheus.port}` }, value: 1 },
    ]);
  });

  void it("returns vector(3) as one unlabelled sample", async () => {
    assert.deepEqual(samplesOf(await client.query("vector(3)")), [{ labels: {}, value: 3 }]);
  });

  void it("returns scalar(vector(2)) as a scalar", async () => {
    assert.deepEqual(samplesOf(await client.query("scalar(vector(2))")), [{ labels: {}, value: 2 }]);
  });

  void it("decodes NaN and ±Inf as Prometheus writes them", async () => {
    assert.deepEqual(
      samplesOf(await client.query("NaN")).map((s) => s.value),
      [Number.NaN],
    );
    assert.deepEqual(
      samplesOf(await client.query("+Inf")).map((s) => s.value),
      [Number.POSITIVE_INFINITY],
    );
    assert.deepEqual(
      samplesOf(await client.query("-Inf")).map((s) => s.value),
      [Number.NEGATIVE_INFINITY],
    );
  });

  void it("reports bad PromQL with Prometheus's own error text", async () => {
    const error = errorOf(await client.query("sum(up"));
    assert.ok(
      error.startsWith(`Prometheus at ${prometheus.url}/api/v1/query: HTTP 400 Bad Request: bad_data: `),
      error,
    );
    assert.match(error, /parse error/);
  });

  void it("refuses range vectors and strings", async () => {
    assert.match(errorOf(await client.query("up[1m]")), /returned a matrix; expected an instant vector or scalar/);
    assert.match(errorOf(await client.query('"hello"')), /returned a string; expected an instant vector or scalar/);
  });
});
