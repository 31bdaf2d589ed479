import { html, type SafeHtml } from "../html.js";

export interface PageFrame {
  title: string;
  /** The page's own path: where the live script fetches fresh content from. */
  path: string;
  /** Who acts: the OS user (file store) or the API server's name for the kubeconfig user. */
  identity: string;
  scope: string;
  notice?: { tone: "error" | "ok"; text: string };
}

/**
 * Every page: server-rendered and complete without script. The one script (an external
 * file, as the CSP demands) only keeps `main#live` current through server-sent events;
 * the notice of a just-submitted form sits outside it, so a live update does not wipe it.
 */
export function layout(frame: PageFrame, body: SafeHtml): SafeHtml {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>${frame.title} · Steward console</title>
        <link rel="stylesheet" href="/static/console.css" />
        <script src="/static/console.js" defer></script>
      </head>
      <body data-page="${frame.path}">
        <header>
          <a class="brand" href="/">Steward</a>
          <span class="scope">${frame.scope}</span>
          <span class="who" title="approvals are recorded under this name"
            >acting as <strong>${frame.identity}</strong></span
          >
          <span id="live-status" class="live" data-state="static">static page</span>
        </header>
        ${frame.notice ? html`<div id="notice" class="notice ${frame.notice.tone}" role="status">${frame.notice.text}</div>` : ""}
        <main id="live">${body}</main>
      </body>
    </html> `;
}

/** A page with only a message: not logged in, not found. */
export function messagePage(title: string, message: string): SafeHtml {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>${title} · Steward console</title>
        <link rel="stylesheet" href="/static/console.css" />
      </head>
      <body>
        <main>
          <h1>${title}</h1>
          <p>${message}</p>
        </main>
      </body>
    </html> `;
}
