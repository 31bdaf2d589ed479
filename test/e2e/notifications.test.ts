/**
 * Notifications across kill -9 and restarts of a real `steward run` (file store). Each
 * transition of a remediation must reach a Slack-shaped receiver and a signed generic
 * webhook on 127.0.0.1: a receiver that is down across a restart gets it once it is back; a
 * kill between the sink taking a notification and Steward recording the acknowledgement
 * sends it again with the same Idempotency-Key (so a receiver that keeps keys sees each
 * transition once); nothing acknowledged is ever sent again.
 *
 * The transitions come from an alert posted to Steward's Alertmanager receiver as
 * Alertmanager posts it (the real Alertmanager is in alerts.test.ts). No model is
 * configured: the remediation opens and waits for a person until the alert resolves.
 */
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { waitFor } from "../../scripts/lib/wait.js";
import { deliveryLedger, type NotificationDelivery } from "../../src/api/notifications.js";
import type { AgentRemediation } from "../../src/api/remediation.js";
import { freePort } from "../support/alerting.js";
import { webhookBody } from "../support/alerts.js";
import { writeManifest } from "../support/desired-states.js";
import { metric, metricSum } from "../support/metrics.js";
import { HttpReceiver, type ReceivedRequest } from "../support/receiver.js";
import { listRemediations } from "../support/status.js";
import { cli, StewardProcess, tempStateDir } from "../support/steward.js";

const SLACK = "oncall/team-slack";
const HOOK = "oncall/incident-bot";
const FINGERPRINT = "7a1c0de5f00d4e11";
const ALERT_LABELS = { alertname: "NotifyTestDown", job: "notify", severity: "critical" };

const DESIRED_STATE = `apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: notify}
spec:
  target: {docker: {project: steward-notify-test}}
  alerts:
    - {alertname: NotifyTestDown, matchers: ['job="notify"']}
  remediation: {simpleFixes: [], agent: {mode: approve}, cooldown: 0s}
`;

/** What one receiver was told: the event and idempotency key of each request, in order. */
interface Told {
  event: string;
  key: string;
}

/** A Slack message names its event and idempotency key in its context line. */
function toldSlack(request: ReceivedRequest): Told {
  const body = JSON.parse(request.body) as { blocks: { type: string; elements?: { text: string }[] }[] };
  const context = body.blocks.find((b) => b.type === "context")?.elements?.[0]?.text ?? "";
  const match = /^Steward · (\w+) at \S+ · (\S+)$/.exec(context);
  assert.ok(match, `a Slack context line: ${context}`);
  return { event: match[1] ?? "", key: match[2] ?? "" };
}

function toldHook(request: ReceivedRequest, signingKey: string): Told {
  const [t, v1] = String(request.headers["x-steward-signature"])
    .split(",")
    .map((p) => p.split("=")[1]);
  assert.equal(v1, createHmac("sha256", signingKey).update(`${t}.${request.body}`).digest("hex"), "a valid signature");
  const notice = JSON.parse(request.body) as { event: string; idempotencyKey: string };
  assert.equal(request.headers["idempotency-key"], notice.idempotencyKey);
  return { event: String(request.headers["x-steward-event"]), key: notice.idempotencyKey };
}

describe("notifications survive kill -9 and restarts of steward run, exactly once per transition by key", () => {
  let state = "";
  let alertsPort = 0;
  const slack = new HttpReceiver([{ status: 200, body: "ok" }]);
  const hook = new HttpReceiver([{ status: 200 }]);
  const signingKey = randomBytes(16).toString("hex");
  // Secret parts of the sink URLs: no log line may hold them.
  const slackPath = `/services/T0/B0/${randomBytes(8).toString("hex")}`;
  const hookPath = `/steward-${randomBytes(8).toString("hex")}`;
  const processes: StewardProcess[] = [];
  let steward: StewardProcess;

  const startSteward = async (): Promise<void> => {
    steward = new StewardProcess(state, ["--alerts-addr", `127.0.0.1:${alertsPort}`]);
    processes.push(steward);
    await steward.start();
  };

  const postAlert = async (status: "firing" | "resolved"): Promise<void> => {
    const response = await fetch(`http://127.0.0.1:${alertsPort}/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(webhookBody([{ status, fingerprint: FINGERPRINT, labels: ALERT_LABELS }])),
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(response.status, 200, await response.text());
  };

  const remediation = async (): Promise<AgentRemediation | undefined> => (await listRemediations(state))[0];

  const delivery = async (record: string, sink: string): Promise<NotificationDelivery | undefined> => {
    const r = await remediation();
    return r ? deliveryLedger(r)[record]?.[sink] : undefined;
  };

  const bothDelivered = (record: string) => async (): Promise<boolean> =>
    (await delivery(record, SLACK))?.state === "Delivered" && (await delivery(record, HOOK))?.state === "Delivered";

  before(async () => {
    state = await tempStateDir();
    alertsPort = await freePort();
    await slack.start();
    await hook.start();
    await writeFile(join(state, "slack-url"), `${slack.url}${slackPath}\n`, { mode: 0o600 });
    await writeFile(join(state, "hook-url"), `${hook.url}${hookPath}\n`, { mode: 0o600 });
    await writeFile(join(state, "hook-key"), signingKey, { mode: 0o600 });
    const policy = `apiVersion: steward.dev/v1alpha1
kind: NotificationPolicy
metadata: {name: oncall}
spec:
  sinks:
    - name: team-slack
      slack: {webhookURL: {file: ${join(state, "slack-url")}}}
    - name: incident-bot
      webhook: {url: {file: ${join(state, "hook-url")}}, signingKey: {file: ${join(state, "hook-key")}}}
`;
    const applied = await cli(
      state,
      "apply",
      "-f",
      await writeManifest(state, "ds.yaml", DESIRED_STATE),
      "-f",
      await writeManifest(state, "notify.yaml", policy),
    );
    assert.equal(applied.code, 0, applied.stderr);
  });

  after(async () => {
    await steward?.stop();
    await slack.stop();
    await hook.stop();
  });

  it("both receivers down across a kill -9 and a restart: the Opened notification reaches each once it is back", async () => {
    await slack.stop();
    await hook.stop();
    await startSteward();
    await postAlert("firing");
    // The transition is stored with its record, and Steward has tried both sinks and failed.
    await waitFor(
      async () =>
        Number((await delivery("Opened-1", SLACK))?.attempts) >= 1 &&
        Number((await delivery("Opened-1", HOOK))?.attempts) >= 1,
      30_000,
      "a failed attempt at each sink",
    );
    const opened = await remediation();
    assert.equal(opened?.status?.phase, "Pending");
    assert.equal(opened?.status?.reason, "NoModelConfigured");
    assert.deepEqual(
      opened?.status?.notifications?.map((n) => n.event),
      ["Opened"],
    );
    assert.equal((await delivery("Opened-1", HOOK))?.lastError, "connection refused");

    await steward.kill();
    await slack.start();
    await hook.start();
    await startSteward();
    await waitFor(bothDelivered("Opened-1"), 30_000, "Opened delivered to both sinks by the restarted Steward");

    const key = `${opened?.metadata.uid}/Opened-1`;
    assert.deepEqual(slack.requests.map(toldSlack), [{ event: "Opened", key }]);
    assert.deepEqual(
      hook.requests.map((r) => toldHook(r, signingKey)),
      [{ event: "Opened", key }],
    );
    assert.deepEqual(
      [...new Set([...slack.requests, ...hook.requests].map((r) => r.path))].sort(),
      [hookPath, slackPath].sort(),
    );
    const message = JSON.parse(slack.requests[0]?.body ?? "{}") as { blocks: { text?: { text: string } }[] };
    assert.equal(message.blocks[0]?.text?.text, `Remediation ${opened?.metadata.name} opened`);
  });

  it("kill -9 after the webhook took Resolved and before Steward recorded it: sent again with the same key; Slack once", async () => {
    hook.script([{ status: 200, hold: true }, { status: 200 }]);
    // The restarted Steward (no --alertmanager-url) hears of the alert again when Alertmanager
    // repeats it; then it resolves.
    await postAlert("firing");
    await waitFor(
      async () => (await cli(state, "get", "ds", "notify", "-o", "json")).stdout.includes("AlertFiring"),
      30_000,
      "the repeated alert to be drift again",
    );
    await postAlert("resolved");
    const held = await waitFor(
      () => hook.requests.find((r) => r.headers["x-steward-event"] === "Resolved"),
      30_000,
      "the webhook to receive Resolved",
    );
    const resolved = await remediation();
    assert.equal(resolved?.status?.phase, "Resolved");
    const record = resolved?.status?.notifications?.find((n) => n.event === "Resolved");
    assert.ok(record, "the Resolved record is in the status with the transition");
    assert.notEqual((await delivery(record.id, HOOK))?.state, "Delivered", "not acknowledged yet");

    await steward.kill();
    await startSteward();
    await waitFor(bothDelivered(record.id), 30_000, "Resolved delivered to both sinks by the restarted Steward");

    const key = `${resolved?.metadata.uid}/${record.id}`;
    assert.equal(held.headers["idempotency-key"], key);
    const hookTold = hook.requests.map((r) => toldHook(r, signingKey));
    assert.deepEqual(hookTold.slice(1), [
      { event: "Resolved", key },
      { event: "Resolved", key },
    ]);
    // A receiver that keeps the keys it has seen: each transition once.
    assert.deepEqual([...new Set(hookTold.map((t) => t.key))], [`${resolved?.metadata.uid}/Opened-1`, key]);
    assert.deepEqual(
      slack.requests.map(toldSlack).map((t) => t.event),
      ["Opened", "Resolved"],
    );
  });

  it("nothing acknowledged is sent again: after another kill -9 the notifier looks at the remediation and sends nothing", async () => {
    const before = { slack: slack.requests.length, hook: hook.requests.length };
    const ledger = deliveryLedger((await remediation()) as AgentRemediation);
    await steward.kill();
    await startSteward();
    await waitFor(
      async () => (await metricSum(steward, "steward_reconcile_total", { controller: "notify" })) >= 1,
      30_000,
      "the restarted notifier to reconcile the remediation",
    );
    assert.equal(await metric(steward, "steward_notifications_pending"), 0);
    assert.deepEqual({ slack: slack.requests.length, hook: hook.requests.length }, before);
    assert.deepEqual(deliveryLedger((await remediation()) as AgentRemediation), ledger);
    assert.equal(await metricSum(steward, "steward_notifications_total", { result: "delivered" }), 0);
  });

  it("no log line of any of the processes holds a sink's URL or the signing key", () => {
    const logs = processes.flatMap((p) => p.logs);
    assert.ok(
      logs.some((l) => l.includes("notification")),
      "the notifier logged its sends",
    );
    for (const secret of [slackPath, hookPath, signingKey]) {
      assert.equal(
        logs.find((l) => l.includes(secret)),
        undefined,
      );
    }
  });
});
