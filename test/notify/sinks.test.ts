import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, it } from "node:test";
import { buildNotice } from "../../src/notify/notice.js";
import { renderPagerDuty } from "../../src/notify/sinks/pagerduty.js";
import { escapeMrkdwn, renderSlack } from "../../src/notify/sinks/slack.js";
import { escapeCardMarkdown, renderTeams } from "../../src/notify/sinks/teams.js";
import { renderWebhook, signature } from "../../src/notify/sinks/webhook.js";
import { AT, awaiting, remediation } from "./fixtures.js";

const url = new URL("https://hooks.example.com/services/T000/B000/XXXXSECRET");
const notice = buildNotice(remediation(), awaiting, { store: "file", stateDir: "/var/lib/steward" });

describe("the notice every sink renders", () => {
  it("holds the transition, the drift, the evidence, the pending command and the exact approve command", () => {
    assert.deepEqual(notice, {
      version: "1",
      event: "AwaitingApproval",
      idempotencyKey: "5f0c1e2a-0000-4000-8000-000000000001/AwaitingApproval-2",
      at: AT,
      remediation: {
        name: "etcd-etcd1-a1b2c3",
        namespace: "default",
        uid: "5f0c1e2a-0000-4000-8000-000000000001",
        phase: "AwaitingApproval",
        reason: "ApprovalRequired",
        message: "docker start etcd1 waits for a person",
        severity: "critical",
      },
      desiredState: { name: "etcd", namespace: "default" },
      drift: [
        {
          type: "ContainerStopped",
          subject: "container/etcd1",
          expected: "running",
          observed: "exited (exit code 0)",
          since: AT,
        },
      ],
      evidence: ["container etcd1: exited, exit code 0, restarts 0", "  | b", "  | c", "  | etcd stopped"],
      pending: [{ id: "toolu_01ABC", command: "docker start etcd1" }],
      commands: {
        approve: ["steward --state-dir /var/lib/steward -n default approve etcd-etcd1-a1b2c3 --id toolu_01ABC"],
        deny: ['steward --state-dir /var/lib/steward -n default deny etcd-etcd1-a1b2c3 --id toolu_01ABC --reason "…"'],
      },
    });
  });

  it("with the kubernetes store, also the kubectl annotate command", () => {
    const kube = buildNotice(remediation(), awaiting, { store: "kubernetes" });
    assert.deepEqual(kube.commands?.approve, [
      "steward --store kubernetes -n default approve etcd-etcd1-a1b2c3 --id toolu_01ABC",
      "kubectl annotate remediation etcd-etcd1-a1b2c3 -n default --overwrite steward.dev/approve=toolu_01ABC",
    ]);
  });

  it("redacts secrets and strips control characters from anything the watched systems wrote; quotes a hostile id", () => {
    const hostile = remediation();
    const container = hostile.spec.drift[0]?.evidence.containers?.[0];
    assert.ok(container);
    container.logs = ["token=sk-ant-api03-abcdefghijklmnop \u001b[31mred\u001b[0m <!channel>"];
    const n = buildNotice(
      hostile,
      { ...awaiting, pending: [{ id: "x; rm -rf /", command: "docker start etcd1" }] },
      {
        store: "file",
      },
    );
    const text = JSON.stringify(n);
    assert.doesNotMatch(text, /sk-ant-api03/);
    assert.doesNotMatch(text, /\\u001b/);
    assert.match(text, /\[REDACTED\]/);
    assert.equal(n.commands?.approve[0], "steward -n default approve etcd-etcd1-a1b2c3 --id 'x; rm -rf /'");
  });
});

describe("Slack: Block Kit", () => {
  it("posts the exact Block Kit message: header, fields, drift, evidence, pending commands, approve and deny", () => {
    const request = renderSlack(notice, url);
    assert.equal(request.url, url);
    assert.deepEqual(request.headers, { "content-type": "application/json" });
    assert.deepEqual(JSON.parse(request.body), {
      text: "Remediation etcd-etcd1-a1b2c3 is waiting for your approval",
      blocks: [
        {
          type: "header",
          text: {
            type: "plain_text",
            text: "Remediation etcd-etcd1-a1b2c3 is waiting for your approval",
            emoji: false,
          },
        },
        {
          type: "section",
          fields: [
            { type: "mrkdwn", text: "*DesiredState*\ndefault/etcd" },
            { type: "mrkdwn", text: "*Severity*\ncritical" },
            { type: "mrkdwn", text: "*Phase*\nAwaitingApproval (ApprovalRequired)" },
            { type: "mrkdwn", text: "*Remediation*\ndefault/etcd-etcd1-a1b2c3" },
          ],
        },
        { type: "section", text: { type: "mrkdwn", text: "docker start etcd1 waits for a person" } },
        {
          type: "section",
          text: {
            type: "mrkdwn",
            text: `*Drift*\n• container/etcd1: expected running, observed exited (exit code 0) (ContainerStopped, since ${AT})`,
          },
        },
        {
          type: "section",
          text: {
            type: "mrkdwn",
            text: "*Evidence*\n```container etcd1: exited, exit code 0, restarts 0\n  | b\n  | c\n  | etcd stopped```",
          },
        },
        {
          type: "section",
          text: { type: "mrkdwn", text: "*Pending commands*\n• ```docker start etcd1``` (id toolu_01ABC)" },
        },
        {
          type: "section",
          text: {
            type: "mrkdwn",
            text: "*Approve*\n```steward --state-dir /var/lib/steward -n default approve etcd-etcd1-a1b2c3 --id toolu_01ABC```",
          },
        },
        {
          type: "section",
          text: {
            type: "mrkdwn",
            text: '*Deny*\n```steward --state-dir /var/lib/steward -n default deny etcd-etcd1-a1b2c3 --id toolu_01ABC --reason "…"```',
          },
        },
        {
          type: "context",
          elements: [
            {
              type: "mrkdwn",
              text: `Steward · AwaitingApproval at ${AT} · 5f0c1e2a-0000-4000-8000-000000000001/AwaitingApproval-2`,
            },
          ],
        },
      ],
    });
  });

  it("escapes mrkdwn: no mention, link or code fence can be smuggled in", () => {
    assert.equal(
      escapeMrkdwn("<!channel> & <https://evil|click>"),
      "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;",
    );
    const hostile = { ...notice, evidence: ["```<!here>```"] };
    const body = renderSlack(hostile, url).body;
    assert.doesNotMatch(body, /<!here>/);
    assert.match(body, /```ˋˋˋ&lt;!here&gt;ˋˋˋ```/);
  });
});

describe("generic webhook", () => {
  it("posts the notice as JSON with Idempotency-Key, the event and an HMAC-SHA256 signature over t.body", () => {
    const request = renderWebhook(notice, { url, signingKey: "k3y" }, Date.parse(AT));
    assert.deepEqual(JSON.parse(request.body), notice);
    const t = Date.parse(AT) / 1000;
    const expected = createHmac("sha256", "k3y").update(`${t}.${request.body}`).digest("hex");
    assert.deepEqual(request.headers, {
      "content-type": "application/json",
      "idempotency-key": "5f0c1e2a-0000-4000-8000-000000000001/AwaitingApproval-2",
      "x-steward-event": "AwaitingApproval",
      "x-steward-signature": `t=${t},v1=${expected}`,
    });
    assert.equal(signature("k3y", request.body, t), request.headers["x-steward-signature"]);
  });

  it("without a signing key, no signature header", () => {
    assert.equal(renderWebhook(notice, { url }, Date.parse(AT)).headers["x-steward-signature"], undefined);
  });
});

describe("PagerDuty Events API v2", () => {
  const target = { url: new URL("https://events.pagerduty.com/v2/enqueue"), routingKey: "R0UTINGKEY" };

  it("triggers with dedup_key = the remediation's uid and the v2 payload fields", () => {
    const escalated = buildNotice(
      remediation(),
      { id: "Escalated-3", event: "Escalated", at: AT, message: "budget maxTurns reached" },
      {
        store: "file",
      },
    );
    const body = JSON.parse(renderPagerDuty(escalated, target).body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ["client", "dedup_key", "event_action", "payload", "routing_key"]);
    assert.equal(body.routing_key, "R0UTINGKEY");
    assert.equal(body.event_action, "trigger");
    assert.equal(body.dedup_key, "5f0c1e2a-0000-4000-8000-000000000001");
    const payload = body.payload as Record<string, unknown>;
    assert.deepEqual(
      { ...payload, custom_details: undefined },
      {
        summary:
          "Remediation etcd-etcd1-a1b2c3 escalated to a person: container/etcd1 expected running, observed exited (exit code 0)",
        source: "steward/default/etcd",
        severity: "critical",
        timestamp: AT,
        component: "container/etcd1",
        group: "etcd",
        class: "ContainerStopped",
        custom_details: undefined,
      },
    );
    assert.equal((payload.custom_details as { message: string }).message, "budget maxTurns reached");
  });

  it("resolves with only the routing key, the action and the same dedup_key", () => {
    const resolved = buildNotice(remediation(), { id: "Resolved-4", event: "Resolved", at: AT }, { store: "file" });
    assert.deepEqual(JSON.parse(renderPagerDuty(resolved, target).body), {
      routing_key: "R0UTINGKEY",
      event_action: "resolve",
      dedup_key: "5f0c1e2a-0000-4000-8000-000000000001",
    });
  });
});

describe("Microsoft Teams", () => {
  it("posts one Adaptive Card in a message attachment", () => {
    const body = JSON.parse(renderTeams(notice, url).body) as {
      type: string;
      attachments: {
        contentType: string;
        content: { type: string; version: string; body: { type: string; text?: string }[] };
      }[];
    };
    assert.equal(body.type, "message");
    assert.equal(body.attachments[0]?.contentType, "application/vnd.microsoft.card.adaptive");
    const card = body.attachments[0]?.content;
    assert.equal(card?.type, "AdaptiveCard");
    assert.equal(
      card?.body[0]?.text,
      "Remediation etcd\\-etcd1\\-a1b2c3 is waiting for your approval".replace(/\\-/g, "-"),
    );
    assert.ok(card?.body.some((b) => b.text?.includes("approve etcd-etcd1-a1b2c3 --id toolu\\_01ABC")));
  });

  it("escapes card Markdown so alert text cannot become a link", () => {
    assert.equal(escapeCardMarkdown("[click](https://evil) *bold*"), "\\[click\\](https://evil) \\*bold\\*");
    assert.equal(escapeCardMarkdown("- item\n1. first"), "\\- item\n1\\. first");
  });
});
