/** What Alertmanager 0.25 posts (webhook_configs, payload version 4). */
export function webhookBody(
  alerts: { status: string; fingerprint: string; labels: Record<string, string> }[],
): unknown {
  return {
    receiver: "steward",
    status: alerts.some((a) => a.status === "firing") ? "firing" : "resolved",
    alerts: alerts.map((a) => ({
      status: a.status,
      labels: a.labels,
      annotations: { summary: "no leader" },
      startsAt: "2026-12-01T09:59:00.000Z",
      endsAt: a.status === "firing" ? "0001-01-01T00:00:00Z" : "2026-12-01T10:01:00.000Z",
      generatorURL: "http://127.0.0.1:19091/graph?g0.expr=up",
      fingerprint: a.fingerprint,
    })),
    groupLabels: { alertname: "EtcdNoLeader" },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: "http://127.0.0.1:19093",
    version: "4",
    groupKey: '{}:{alertname="EtcdNoLeader"}',
    truncatedAlerts: 0,
  };
}
