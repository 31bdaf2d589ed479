import type { Notice } from "../notice.js";
import { headline, type RenderedRequest } from "./rendered.js";

/** Slack's limits: a header's text, a section's text, blocks per message. */
const HEADER_MAX = 150;
const SECTION_MAX = 3_000;

/**
 * Slack mrkdwn escaping: `&`, `<` and `>` are the only characters Slack asks to escape,
 * and they are what make `<!channel>`, `<@U123>` and `<https://…|link>`; a backtick would
 * end a code span early, so inside code it is shown as a look-alike (ˋ).
 */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function code(text: string): string {
  return `\`\`\`${escapeMrkdwn(text).replace(/`/g, "ˋ")}\`\`\``;
}

function section(text: string): { type: "section"; text: { type: "mrkdwn"; text: string } } {
  const body = text.length > SECTION_MAX ? `${text.slice(0, SECTION_MAX - 1)}…` : text;
  return { type: "section", text: { type: "mrkdwn", text: body } };
}

/**
 * A Slack incoming webhook message in Block Kit: a header, the DesiredState, severity and
 * phase as fields, the drift, the evidence, the pending commands and the exact commands to
 * approve them. `text` is the notification fallback.
 */
export function renderSlack(notice: Notice, url: URL): RenderedRequest {
  const r = notice.remediation;
  const title = headline(notice.event, r.name);
  const blocks: unknown[] = [
    { type: "header", text: { type: "plain_text", text: title.slice(0, HEADER_MAX), emoji: false } },
    {
      type: "section",
      fields: [
        {
          type: "mrkdwn",
          text: `*DesiredState*\n${escapeMrkdwn(`${notice.desiredState.namespace}/${notice.desiredState.name}`)}`,
        },
        { type: "mrkdwn", text: `*Severity*\n${escapeMrkdwn(r.severity)}` },
        { type: "mrkdwn", text: `*Phase*\n${escapeMrkdwn(r.phase)}${r.reason ? ` (${escapeMrkdwn(r.reason)})` : ""}` },
        { type: "mrkdwn", text: `*Remediation*\n${escapeMrkdwn(`${r.namespace}/${r.name}`)}` },
      ],
    },
  ];
  if (r.message) blocks.push(section(escapeMrkdwn(r.message)));
  blocks.push(
    section(
      `*Drift*\n${notice.drift.map((d) => `• ${escapeMrkdwn(`${d.subject}: expected ${d.expected}, observed ${d.observed} (${d.type}, since ${d.since})`)}`).join("\n")}`,
    ),
  );
  if (notice.evidence.length > 0) blocks.push(section(`*Evidence*\n${code(notice.evidence.join("\n"))}`));
  if (r.summary) blocks.push(section(`*Summary*\n${escapeMrkdwn(r.summary)}`));
  if (notice.pending.length > 0) {
    blocks.push(
      section(
        `*Pending commands*\n${notice.pending.map((p) => `• ${code(p.command)} (id ${escapeMrkdwn(p.id)})`).join("\n")}`,
      ),
    );
  }
  if (notice.commands) {
    blocks.push(section(`*Approve*\n${code(notice.commands.approve.join("\n"))}`));
    blocks.push(section(`*Deny*\n${code(notice.commands.deny.join("\n"))}`));
  }
  blocks.push({
    type: "context",
    elements: [
      { type: "mrkdwn", text: escapeMrkdwn(`Steward · ${notice.event} at ${notice.at} · ${notice.idempotencyKey}`) },
    ],
  });
  return {
    url,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text: escapeMrkdwn(title), blocks }),
  };
}
