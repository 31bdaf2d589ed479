import { REDACTED } from "../../text/redact.js";
import type { AlertStatusSource, PrometheusClient, ReceivedAlert } from "../types.js";
import type { AlertmanagerClient } from "./alertmanager.js";

/**
 * Whether an alert still fires, asked of the sources rather than the webhook cache (which
 * learns of a resolution only at Alertmanager's next group_interval): Alertmanager's API
 * first; when it is not configured or does not answer, Prometheus's `ALERTS` series.
 */
export class AlertStatus implements AlertStatusSource {
  constructor(private readonly sources: { alertmanager?: AlertmanagerClient; prometheus?: PrometheusClient }) {}

  async stillFiring(
    alert: Pick<ReceivedAlert, "fingerprint" | "labels">,
    signal: AbortSignal,
  ): Promise<boolean | undefined> {
    const alertname = alert.labels.alertname ?? "";
    const { alertmanager, prometheus } = this.sources;
    if (alertmanager) {
      try {
        const active = await alertmanager.active(signal, alertname);
        return active.some((a) => a.fingerprint === alert.fingerprint);
      } catch {
        // Fall through to Prometheus.
      }
    }
    if (!prometheus) return undefined;
    const result = await prometheus.query(`ALERTS{alertname=${JSON.stringify(alertname)},alertstate="firing"}`, signal);
    if (!result.ok) return undefined;
    return result.samples.some((sample) => sameAlert(sample.labels, alert.labels));
  }
}

/**
 * An `ALERTS` series is the alert when its labels (without `__name__` and `alertstate`) are
 * all on the alert: Alertmanager's copy also carries Prometheus's external labels, which
 * the series lacks. A label value known only redacted (from evidence) matches any value.
 */
export function sameAlert(series: Readonly<Record<string, string>>, alert: Readonly<Record<string, string>>): boolean {
  return Object.entries(series).every(([name, value]) => {
    if (name === "alertstate" || name === "__name__") return true;
    const known = Object.hasOwn(alert, name) ? alert[name] : undefined;
    return known === value || (known !== undefined && known.includes(REDACTED));
  });
}
