import type { Notice } from "../notice.js";
import { headline, type RenderedRequest } from "./rendered.js";

/**
 * Adaptive Card text is a Markdown subset (emphasis, lists, links): backslashes, brackets
 * and emphasis marks are escaped with a backslash, and so is a list marker at the start of
 * a line, so alert or log text cannot become a link or change how the card reads.
 */
export function escapeCardMarkdown(text: string): string {
  return text
    .replace(/[\\[\]*_]/g, (ch) => `\\${ch}`)
    .replace(/^(\s*)([-+])/gm, "$1\\$2")
    .replace(/^(\s*\d+)\./gm, "$1\\.");
}

/** A Microsoft Teams incoming webhook (Workflows) message: one Adaptive Card. */
export function renderTeams(notice: Notice, url: URL): RenderedRequest {
  const r = notice.remediation;
  const body: unknown[] = [
    {
      type: "TextBlock",
      text: escapeCardMarkdown(headline(notice.event, r.name)),
      weight: "Bolder",
      size: "Medium",
      wrap: true,
    },
    {
      type: "FactSet",
      facts: [
        {
          title: "DesiredState",
          value: escapeCardMarkdown(`${notice.desiredState.namespace}/${notice.desiredState.name}`),
        },
        { title: "Severity", value: escapeCardMarkdown(r.severity) },
        { title: "Phase", value: escapeCardMarkdown(`${r.phase}${r.reason ? ` (${r.reason})` : ""}`) },
      ],
    },
  ];
  const text = (t: string, extra: Record<string, unknown> = {}): void => {
    body.push({ type: "TextBlock", text: escapeCardMarkdown(t), wrap: true, ...extra });
  };
  if (r.message) text(r.message);
  for (const d of notice.drift) text(`${d.subject}: expected ${d.expected}, observed ${d.observed}`);
  if (notice.evidence.length > 0) text(notice.evidence.join("\n"), { fontType: "Monospace" });
  for (const p of notice.pending) text(`Pending: ${p.command} (id ${p.id})`, { fontType: "Monospace" });
  if (notice.commands) text(notice.commands.approve.join("\n"), { fontType: "Monospace" });
  const card = {
    $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
    type: "AdaptiveCard",
    version: "1.4",
    body,
  };
  return {
    url,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      type: "message",
      attachments: [{ contentType: "application/vnd.microsoft.card.adaptive", contentUrl: null, content: card }],
    }),
  };
}
