import { z } from "zod";
import { StewardError } from "../../errors.js";
import { HttpCallError, sendHttp } from "../../resilience/http-request.js";
import { isLoopbackHost } from "../prometheus.js";
import type { ReceivedAlert } from "../types.js";

/** Per call; Alertmanager answers from memory. */
const TIMEOUT_MS = 5_000;
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

const GettableAlert = z.object({
  fingerprint: z.string(),
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()).default({}),
  startsAt: z.string(),
  endsAt: z.string().optional(),
  generatorURL: z.string().optional(),
  status: z.object({ state: z.string() }),
});
const GettableAlerts = z.array(GettableAlert);

/**
 * Alertmanager's v2 API (`GET /api/v2/alerts`): the alerts it holds that have not resolved,
 * silenced and inhibited ones included (silencing an alert stops the notifications, not
 * the problem). Loopback only unless `allowRemote`, as with Prometheus.
 */
export class AlertmanagerClient {
  readonly endpoint: URL;

  constructor(baseUrl: string, allowRemote: boolean) {
    this.endpoint = alertsEndpoint(baseUrl, allowRemote);
  }

  /** Every alert Alertmanager holds that has not resolved; `alertname` narrows it to one rule's. */
  async active(signal: AbortSignal, alertname?: string): Promise<ReceivedAlert[]> {
    const url = new URL(this.endpoint);
    if (alertname !== undefined) url.searchParams.append("filter", `alertname=${JSON.stringify(alertname)}`);
    let text: string;
    try {
      const response = await sendHttp({
        method: "GET",
        url,
        headers: { accept: "application/json" },
        timeoutMs: TIMEOUT_MS,
        maxResponseBytes: MAX_RESPONSE_BYTES,
        signal,
      });
      if (response.status !== 200) throw new StewardError(`HTTP ${response.status}: ${response.body.slice(0, 200)}`);
      text = response.body;
    } catch (err) {
      const message = err instanceof HttpCallError || err instanceof StewardError ? err.message : String(err);
      throw new StewardError(`Alertmanager at ${this.endpoint.origin}: ${message}`, { cause: err });
    }
    const parsed = GettableAlerts.safeParse(safeJson(text));
    if (!parsed.success)
      throw new StewardError(
        `Alertmanager at ${this.endpoint.origin}: not a list of alerts (${parsed.error.issues[0]?.message})`,
      );
    return parsed.data
      .filter((a) => a.status.state !== "resolved")
      .map((a) => ({
        fingerprint: a.fingerprint,
        status: "firing" as const,
        labels: a.labels,
        annotations: a.annotations,
        startsAt: a.startsAt,
        endsAt: a.endsAt,
        generatorURL: a.generatorURL || undefined,
      }));
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function alertsEndpoint(baseUrl: string, allowRemote: boolean): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new StewardError(
      `--alertmanager-url ${JSON.stringify(baseUrl)} is not a URL; expected e.g. "http://127.0.0.1:9093"`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new StewardError(`--alertmanager-url must use http: or https:, not ${url.protocol}`);
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "")
    throw new StewardError("--alertmanager-url must not contain credentials, a query string or a fragment");
  if (!allowRemote && !isLoopbackHost(url.hostname))
    throw new StewardError(
      `--alertmanager-url: host ${url.hostname} is not a loopback address; set --alertmanager-allow-remote true to query it`,
    );
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/api/v2/alerts`;
  return url;
}
