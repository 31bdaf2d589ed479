import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

/**
 * Debian's Chromium (`apt-get install chromium`, done by scripts/engines.sh), driven by
 * playwright-core: no browser download. `/usr/bin/chromium` is a wrapper script that
 * playwright cannot drive, so the binary itself. Playwright gives every launch a fresh
 * temporary profile (--user-data-dir) and removes it on close.
 */
export const CHROMIUM = process.env.STEWARD_CHROMIUM ?? "/usr/lib/chromium/chromium";

const FLAGS = [
  "--no-sandbox", // root in CI and here; the pages are our own
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: bash scripts/engines.sh up installs Debian's chromium package (root)`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: 60_000 });
}

/** What a page did that it must not: CSP violations (logged as console errors) and uncaught errors. */
export interface PageWatch {
  problems: string[];
}

/** A new page at 1280×900 whose console errors and page errors are collected. */
export async function newWatchedPage(browser: Browser): Promise<{ page: Page; watch: PageWatch }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const watch: PageWatch = { problems: [] };
  page.on("console", (message) => {
    // A refused request (a 403 a test provokes, the event stream after the console stopped) is not script.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource"))
      watch.problems.push(`console error: ${message.text()}`);
  });
  page.on("pageerror", (err) => watch.problems.push(`page error: ${err.message}`));
  return { page, watch };
}
