import { sinkType } from "../api/notification-policy.js";
import { errorMessage } from "../errors.js";
import { isLoopbackHost } from "../observe/prometheus.js";
import { HttpCallError, retryAfterMs, sendHttp } from "../resilience/http-request.js";
import { redactSecrets } from "../text/redact.js";
import type { SendOutcome, SinkRef } from "./deliveries.js";
import type { Notice } from "./notice.js";
import type { SecretReader } from "./secrets.js";
import { renderPagerDuty } from "./sinks/pagerduty.js";
import type { RenderedRequest } from "./sinks/rendered.js";
import { renderSlack } from "./sinks/slack.js";
import { renderTeams } from "./sinks/teams.js";
import { renderWebhook } from "./sinks/webhook.js";

/** Per send: a sink that does not answer in this long is retried later. */
export const SEND_TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 65_536;
const BODY_SNIPPET = 200;

/**
 * Renders a notice for one sink (reading its secrets) and sends it. The outcome never
 * carries the URL, the token or the signing key: sink answers and errors are redacted with
 * them as known secrets.
 */
export class SinkSender {
  constructor(
    private readonly secrets: SecretReader,
    private readonly now: () => number = Date.now,
  ) {}

  async send(ref: SinkRef, notice: Notice, signal: AbortSignal): Promise<SendOutcome> {
    let rendered: { request: RenderedRequest; secrets: string[] };
    try {
      rendered = await this.render(ref, notice, signal);
    } catch (err) {
      // A missing or unreadable secret may be fixed (a Secret created late): retried until maxAttempts.
      return { type: "retry", error: errorMessage(err) };
    }
    const { request, secrets } = rendered;
    const refused = refusedUrl(request.url);
    if (refused) return { type: "permanent", error: refused };
    try {
      const response = await sendHttp({
        method: "POST",
        url: request.url,
        headers: { "user-agent": "steward", ...request.headers },
        body: request.body,
        timeoutMs: SEND_TIMEOUT_MS,
        maxResponseBytes: MAX_RESPONSE_BYTES,
        signal,
      });
      return classify(response.status, {
        body: redactSecrets(response.body.slice(0, BODY_SNIPPET), secrets),
        retryAfterMs: retryAfterMs(response.headers["retry-after"], this.now()),
      });
    } catch (err) {
      const message = err instanceof HttpCallError ? err.message : redactSecrets(errorMessage(err), secrets);
      return { type: "retry", error: message };
    }
  }

  private async render(
    ref: SinkRef,
    notice: Notice,
    signal: AbortSignal,
  ): Promise<{ request: RenderedRequest; secrets: string[] }> {
    const { sink, policy } = ref;
    const namespace = policy.metadata.namespace;
    const read = (secret: Parameters<SecretReader["read"]>[0]): Promise<string> =>
      this.secrets.read(secret, namespace, signal);
    switch (sinkType(sink)) {
      case "slack": {
        const url = await read(required(sink.slack).webhookURL);
        return { request: renderSlack(notice, parseUrl(url)), secrets: [url] };
      }
      case "teams": {
        const url = await read(required(sink.teams).webhookURL);
        return { request: renderTeams(notice, parseUrl(url)), secrets: [url] };
      }
      case "pagerduty": {
        const spec = required(sink.pagerduty);
        const routingKey = await read(spec.routingKey);
        return { request: renderPagerDuty(notice, { url: parseUrl(spec.url), routingKey }), secrets: [routingKey] };
      }
      case "webhook": {
        const spec = required(sink.webhook);
        const url = await read(spec.url);
        const signingKey = spec.signingKey ? await read(spec.signingKey) : undefined;
        const request = renderWebhook(notice, { url: parseUrl(url), signingKey }, this.now());
        return { request, secrets: signingKey ? [url, signingKey] : [url] };
      }
    }
  }
}

function required<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("the sink has no settings for its type");
  return value;
}

function parseUrl(text: string): URL {
  try {
    return new URL(text);
  } catch {
    throw new Error("the sink's URL is not a URL");
  }
}

/** Notifications leave the host over TLS; plain http only to loopback (a local relay, tests). */
function refusedUrl(url: URL): string | undefined {
  if (url.username !== "" || url.password !== "") return "the sink's URL must not carry credentials";
  if (url.protocol === "https:") return undefined;
  if (url.protocol === "http:" && isLoopbackHost(url.hostname)) return undefined;
  return "the sink's URL must be https (http only to 127.0.0.1, localhost or ::1)";
}

/** 2xx delivered; 408, 425, 429 and 5xx retried (honouring Retry-After); anything else is final. */
function classify(status: number, answer: { body: string; retryAfterMs: number | undefined }): SendOutcome {
  if (status >= 200 && status < 300) return { type: "delivered" };
  const error = `HTTP ${status}${answer.body.trim() ? `: ${answer.body.trim().replace(/\s+/g, " ")}` : ""}`;
  if (status === 408 || status === 425 || status === 429 || status >= 500)
    return { type: "retry", error, retryAfterMs: answer.retryAfterMs };
  if (status >= 300 && status < 400) return { type: "permanent", error: `${error} (redirects are not followed)` };
  return { type: "permanent", error };
}
