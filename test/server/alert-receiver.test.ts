import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AlertReceiver, ALERT_REQUESTS_PER_MINUTE, MAX_ALERT_BODY_BYTES } from "../../src/server/alert-receiver.js";
import type { ReceivedAlert } from "../../src/observe/types.js";
import { createLogger } from "../../src/telemetry/logging.js";
import { StewardMetrics } from "../../src/telemetry/metrics.js";
import { webhookBody } from "../support/alerts.js";

const TOKEN = "alert-token-7f3a";

describe("the Alertmanager webhook receiver, over HTTP on 127.0.0.1", () => {
  const received: ReceivedAlert[][] = [];
  const metrics = new StewardMetrics();
  let now = 0;
  const receiver = new AlertReceiver({
    address: "127.0.0.1:0",
    token: TOKEN,
    onAlerts: (alerts) => received.push([...alerts]),
    metrics,
    logger: createLogger({ format: "json", level: "error" }),
    now: () => now,
  });
  let base = "";

  before(async () => {
    base = `http://${await receiver.start()}`;
  });
  after(() => receiver.close());

  const post = (
    body: string,
    headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` },
  ): Promise<Response> =>
    fetch(`${base}/alerts`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  const valid = JSON.stringify(
    webhookBody([{ status: "firing", fingerprint: "0a1b2c3d", labels: { alertname: "EtcdNoLeader", job: "etcd" } }]),
  );

  it("accepts a version 4 payload with the bearer token and hands the alerts on", async () => {
    const response = await post(valid);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: "ok", alerts: 1 });
    assert.deepEqual(
      received.at(-1)?.map((a) => [a.fingerprint, a.status, a.labels.alertname]),
      [["0a1b2c3d", "firing", "EtcdNoLeader"]],
    );
  });

  it("refuses a missing or wrong token with 401, comparing the whole header", async () => {
    const count = received.length;
    const attempts: Record<string, string>[] = [
      {},
      { authorization: "Bearer wrong" },
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: TOKEN },
    ];
    for (const headers of attempts) {
      const response = await post(valid, headers);
      assert.equal(response.status, 401);
      assert.equal(response.headers.get("www-authenticate"), "Bearer");
    }
    assert.equal(received.length, count, "nothing refused reached the cache");
  });

  it("answers malformed input with 400 and the reason, and keeps serving", async () => {
    const cases: [string, RegExp][] = [
      ["{not json", /^malformed JSON/],
      [JSON.stringify({ version: "3", alerts: [] }), /^version: expected version "4"/],
      [JSON.stringify({ ...JSON.parse(valid), alerts: [{ status: "firing" }] }), /^alerts\.0\./],
      ["", /^malformed JSON/],
    ];
    for (const [body, reason] of cases) {
      const response = await post(body);
      assert.equal(response.status, 400, body);
      assert.match(((await response.json()) as { error: string }).error, reason);
    }
    assert.equal((await post(valid)).status, 200);
  });

  it("refuses a body over the limit with 413 without reading it all", async () => {
    const response = await post(`{"version":"4","alerts":[],"x":"${"a".repeat(MAX_ALERT_BODY_BYTES)}"}`);
    assert.equal(response.status, 413);
  });

  it("other paths and methods: 404 and 405", async () => {
    assert.equal((await fetch(`${base}/`, { method: "POST", body: valid })).status, 404);
    assert.equal((await fetch(`${base}/alerts`)).status, 405);
  });

  it("rate-limits with 429 and Retry-After (Alertmanager retries), then accepts again as tokens refill", async () => {
    let limited: Response | undefined;
    for (let i = 0; i <= ALERT_REQUESTS_PER_MINUTE && !limited; i++) {
      const response = await post(valid);
      if (response.status === 429) limited = response;
    }
    assert.ok(limited, "a burst past the limit is refused");
    assert.match(limited.headers.get("retry-after") ?? "", /^\d+$/);
    now += 1_000;
    assert.equal((await post(valid)).status, 200);
  });

  it("counts requests by status and alerts by state", async () => {
    const text = await metrics.registry.metrics();
    assert.match(text, /steward_alert_webhook_requests_total\{code="401"\} 4/);
    assert.match(text, /steward_alert_webhook_requests_total\{code="413"\} 1/);
    assert.match(text, /steward_alerts_received_total\{status="firing"\} [1-9]/);
  });
});
