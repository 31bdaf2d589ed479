/**
 * A Prometheus of the bench's own for the scale runs (the shared demo Prometheus is left to
 * the etcd cluster and its tests): the demo image, host network, a free port on 127.0.0.1,
 * scraping itself so invariants have real series to read.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "../../scripts/lib/wait.js";
import { BENCH_LABEL, docker } from "./docker.js";

const IMAGE = "steward-demo/prometheus:2.42";

export interface BenchPrometheus {
  url: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no free port");
  return address.port;
}

export interface PrometheusOptions {
  /** The whole prometheus.yml, given its own port (it must keep the `bench` job scraping itself); default: that job alone. */
  config?: (port: number) => string;
  /** More files beside prometheus.yml (rule files), by name. */
  files?: Record<string, string>;
  /** Distinguishes two Prometheus of one run. */
  name?: string;
}

export async function startPrometheus(runId: string, options: PrometheusOptions = {}): Promise<BenchPrometheus> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "steward-bench-prom-"));
  const config =
    options.config?.(port) ??
    `global: {scrape_interval: 5s, scrape_timeout: 5s, evaluation_interval: 5s}\nscrape_configs:\n  - job_name: bench\n    static_configs: [{targets: ['127.0.0.1:${port}']}]\n`;
  await writeFile(join(dir, "prometheus.yml"), config);
  for (const [name, text] of Object.entries(options.files ?? {})) await writeFile(join(dir, name), text);
  const container = await docker.createContainer({
    name: `bench-prometheus-${options.name ?? "scale"}-${runId}`,
    Image: IMAGE,
    Cmd: [
      "--config.file=/etc/prometheus/prometheus.yml",
      "--storage.tsdb.path=/prometheus",
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    Labels: { [BENCH_LABEL]: runId },
    HostConfig: { NetworkMode: "host", Binds: [`${dir}:/etc/prometheus:ro`], Tmpfs: { "/prometheus": "" } },
  });
  await container.start();
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent('up{job="bench"} == 1')}`).catch(
        () => undefined,
      );
      const body = (await res?.json().catch(() => undefined)) as { data?: { result?: unknown[] } } | undefined;
      return (body?.data?.result?.length ?? 0) > 0;
    },
    60_000,
    "the bench Prometheus to scrape itself",
  );
  return {
    url,
    async stop(): Promise<void> {
      await container.remove({ force: true }).catch(() => undefined);
    },
  };
}
