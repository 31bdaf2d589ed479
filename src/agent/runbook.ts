import { open, realpath } from "node:fs/promises";
import { isAbsolute, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { AgentRemediation } from "../api/remediation.js";
import { errorMessage } from "../errors.js";
import { sendHttp } from "../resilience/http-request.js";

/** The most of a runbook the model is given; a runbook is a page, not a manual. */
export const RUNBOOK_MAX_BYTES = 65_536;
const FETCH_TIMEOUT_MS = 5_000;

/** Where runbooks may come from (`--runbook-dir`, `--runbook-url-prefixes`); nothing else is read. */
export interface RunbookSources {
  /** Absolute directories; a runbook_url naming a file under one of them is read. */
  dirs: readonly string[];
  /** URL prefixes (`https://wiki.example.com/runbooks/`); a runbook_url starting with one is fetched. */
  urlPrefixes: readonly string[];
}

export type Runbook = { source: string; text: string } | { source: string; error: string };

/**
 * The runbook of an alert-driven remediation: its alert's `runbook_url` annotation, when it
 * names a file under an allowed directory or a URL under an allowed prefix. Alert
 * annotations come from whoever can push alerts, so anything else is refused (a path
 * outside the directories, `..`, a symlink out of them, another host): the agent is never
 * made to read an arbitrary file or URL. Undefined when there is no runbook_url.
 */
export async function loadRunbook(
  remediation: AgentRemediation,
  sources: RunbookSources,
  signal: AbortSignal,
): Promise<Runbook | undefined> {
  const url = remediation.spec.drift.find((d) => d.evidence.alert?.annotations.runbook_url)?.evidence.alert?.annotations
    .runbook_url;
  if (url === undefined) return undefined;
  try {
    if (url.startsWith("/") || url.startsWith("file:")) {
      const path = url.startsWith("file:") ? fileURLToPath(url) : url;
      return { source: url, text: await readAllowedFile(path, sources.dirs) };
    }
    const prefix = sources.urlPrefixes.find((p) => url.startsWith(p));
    if (!prefix) return { source: url, error: "not under an allowed URL prefix (steward run --runbook-url-prefixes)" };
    return { source: url, text: await fetchRunbook(new URL(url), signal) };
  } catch (err) {
    return { source: url, error: errorMessage(err) };
  }
}

async function readAllowedFile(path: string, dirs: readonly string[]): Promise<string> {
  if (!isAbsolute(path)) throw new Error("not an absolute path");
  const real = await realpath(path);
  const allowed = await Promise.all(dirs.map((d) => realpath(d).catch(() => undefined)));
  const inside = allowed.some((dir) => dir !== undefined && isInside(real, dir));
  if (!inside) throw new Error("not under an allowed directory (steward run --runbook-dir)");
  const file = await open(real, "r");
  try {
    const buffer = Buffer.alloc(RUNBOOK_MAX_BYTES);
    const { bytesRead } = await file.read(buffer, 0, RUNBOOK_MAX_BYTES, 0);
    return buffer.toString("utf8", 0, bytesRead);
  } finally {
    await file.close();
  }
}

function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel !== "" && !rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel);
}

async function fetchRunbook(url: URL, signal: AbortSignal): Promise<string> {
  const response = await sendHttp({
    method: "GET",
    url,
    headers: { accept: "text/plain, text/markdown, text/html;q=0.5" },
    timeoutMs: FETCH_TIMEOUT_MS,
    maxResponseBytes: RUNBOOK_MAX_BYTES,
    signal,
  });
  if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
  return response.body;
}
