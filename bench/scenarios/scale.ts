/**
 * Scale: N containers (busybox `sleep`, labelled for this run), D DesiredStates each with
 * one invariant (or ten) evaluated every 15 s, on the file store or the Kubernetes store.
 * The DesiredStates are stored first; then Steward starts, and the bench measures the cold
 * start (start → all D reconciled, with the API requests and queries it took), a steady
 * window (CPU, RSS, reconcile latency, Prometheus queries and API requests through
 * counting proxies), then container deaths under that load (detection and recovery).
 */
import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { parse, stringify } from "yaml";
import { waitFor } from "../../scripts/lib/wait.js";
import { cli, tempStateDir } from "../../test/support/steward.js";
import { CountingProxy, requestCounts, requestsPerMinute } from "../lib/counting-proxy.js";
import { BENCH_LABEL, SLOT_LABEL, crash, createSleepers, downtimeMs, waitRestarted } from "../lib/docker.js";
import { cpuPercent } from "../lib/proc.js";
import { bucketDelta, histogramQuantile, metricValue, parseHistogram, summarize, type Summary } from "../lib/stats.js";
import { BenchSteward } from "../lib/steward.js";

const run = promisify(execFile);
/** The DesiredState controller's series of the labelled reconcile and queue metrics. */
const DESIRED_STATE_CONTROLLER = 'controller="desiredstate"';
const ROOT = new URL("../../", import.meta.url).pathname;
export const KUBE_NAMESPACE = "steward-bench";

export interface ScaleRow {
  store: "file" | "kubernetes";
  containers: number;
  desiredStates: number;
  /** Default 1: as many invariants as DesiredStates. */
  invariantsPerDesiredState?: number;
  /**
   * Every invariant its own query (a label matcher naming its DesiredState), so no two
   * share one; by default they all ask `up{job="bench"}`, as many services watching one
   * target would, and the evaluator runs it once per interval.
   */
  distinctQueries?: boolean;
}

export interface ScaleResult extends ScaleRow {
  invariants: number;
  /** Cold start: `steward run` started with every DesiredState already stored → every one reconciled once, the queue empty. */
  coldStartMs: number;
  throughputPerSecond: number;
  /** Kubernetes store only: API requests during the cold start, in all and by verb and resource. */
  coldStartApiRequests?: number;
  coldStartRequestsByKind?: Record<string, number>;
  /** Prometheus queries during the cold start. */
  coldStartPromQueries: number;
  steadyWindowSeconds: number;
  reconcilesPerSecond: number;
  reconcileP50Ms: number;
  reconcileP99Ms: number;
  cpuPercentOfOneCore: number;
  cpuSeconds: number;
  /** Resident set at the end of the steady window; peak (VmHWM) includes the initial burst. */
  rssMB: number;
  peakRssMB: number;
  prometheusQueriesPerSecond: number;
  /** Kubernetes store only: API requests per minute in the steady window, by verb and resource. */
  apiRequestsPerMinute?: number;
  apiRequestsByKind?: Record<string, number>;
  detectionMs: Summary;
  recoveryMs: Summary;
  cpuProfile?: string;
}

export interface ScaleContext {
  runId: string;
  prometheusUrl: string;
  steadySeconds: number;
  /**
   * Wait after the first sync before the steady window: V8 keeps compiling and collecting
   * in background threads for tens of seconds after start-up (an idle Steward: about 1 % of
   * a core in its first 30 s, 0.4 % from its second minute on).
   */
  settleSeconds: number;
  kills: number;
  /** The containers that exist so far; rows grow them and never shrink. */
  containers: string[];
  kube?: KubeAccess;
  profileDir?: string;
  /** Steward's log level; debug shows every Docker event (and costs CPU). */
  logLevel?: "info" | "debug";
  log: (line: string) => void;
  /** Called with Steward's log lines after the row, e.g. to keep them for a failed run. */
  onLogs?: (lines: readonly string[]) => void;
}

export interface KubeAccess {
  kubeconfig: string;
  kubectl: string;
}

export function scaleManifest(row: ScaleRow, runId: string, containers: readonly string[]): string {
  const docs = Array.from({ length: row.desiredStates }, (_, i) => {
    const service = i < row.containers ? [{ name: containers[i], restartBudget: { max: 1000, window: "1m" } }] : [];
    // JSON documents: every string quoted, so kubectl's YAML 1.1 reads mode "off" as a string.
    return JSON.stringify({
      apiVersion: "steward.dev/v1alpha1",
      kind: "DesiredState",
      metadata: { name: `scale-${i}` },
      spec: {
        // Each DesiredState targets one container, as one compose project per DesiredState
        // would; beyond the container count, a second DesiredState per container declares
        // only an invariant.
        target: { docker: { selector: { [BENCH_LABEL]: runId, [SLOT_LABEL]: String(i % row.containers) } } },
        interval: "15s",
        services: service,
        invariants: Array.from({ length: row.invariantsPerDesiredState ?? 1 }, (_, j) => ({
          name: `prometheus-up-${j}`,
          query: row.distinctQueries ? `sum(up{job="bench",desiredstate!="scale-${i}-${j}"})` : 'up{job="bench"}',
          condition: ">= 1",
          for: "30s",
        })),
        remediation: { simpleFixes: ["start", "restart"], agent: { mode: "off" } },
      },
    });
  });
  return docs.join("\n---\n");
}

export async function runScaleRow(row: ScaleRow, ctx: ScaleContext): Promise<ScaleResult> {
  if (ctx.containers.length < row.containers) {
    ctx.containers.push(
      ...(await createSleepers(ctx.runId, `bench-${ctx.runId}-c`, { from: ctx.containers.length, to: row.containers })),
    );
  }
  const names = ctx.containers.slice(0, row.containers);
  const state = await tempStateDir();
  const promProxy = new CountingProxy({ upstream: ctx.prometheusUrl });
  const promUrl = await promProxy.start();
  const kubeProxy = row.store === "kubernetes" && ctx.kube ? await startKubeProxy(ctx.kube, state) : undefined;
  if (row.store === "kubernetes" && !kubeProxy) throw new Error("kubernetes store row without a control plane");
  const profileDir = ctx.profileDir
    ? join(
        ctx.profileDir,
        `${row.store}-${row.containers}c-${row.desiredStates}ds-${row.invariantsPerDesiredState ?? 1}inv${row.distinctQueries ? "-distinct" : ""}`,
      )
    : undefined;
  if (profileDir) await mkdir(profileDir, { recursive: true });
  const env: Record<string, string> = kubeProxy
    ? {
        KUBECONFIG: kubeProxy.kubeconfig,
        STEWARD_STORE: "kubernetes",
        STEWARD_TARGETS: "docker",
        STEWARD_WATCH_NAMESPACE: KUBE_NAMESPACE,
        STEWARD_LEASE_NAMESPACE: KUBE_NAMESPACE,
        STEWARD_LEASE_NAME: `bench-${ctx.runId}`,
      }
    : {};
  const steward = new BenchSteward({
    stateDir: state,
    prometheusUrl: promUrl,
    env,
    cpuProfileDir: profileDir,
    logLevel: ctx.logLevel,
  });
  try {
    // Stored first, then Steward started: a cold start, as after a deployment or a restart.
    const manifest = join(state, "scale.yaml");
    await writeFile(manifest, scaleManifest(row, ctx.runId, names));
    await applyManifest(state, manifest, row, ctx.kube);
    const startedAt = Date.now();
    await steward.start();
    const coldStartMs = await waitAllReconciled(steward, row.desiredStates, startedAt);
    const coldRequests = kubeProxy?.proxy.between(startedAt, startedAt + coldStartMs);
    ctx.log(
      `  ${row.store} ${row.containers} containers / ${row.desiredStates} DesiredStates${row.distinctQueries ? " (distinct queries)" : ""}: cold start ${coldStartMs} ms${coldRequests ? `, ${coldRequests.length} API requests` : ""}`,
    );
    // Let the initial burst's writes, their watch events and the JIT settle before the steady window.
    await sleep(ctx.settleSeconds * 1000);
    const steady = await steadyWindow(steward, ctx.steadySeconds, { prom: promProxy, kube: kubeProxy?.proxy });
    // Only declared containers: beyond the DesiredState count, containers have no owner to start them.
    const deaths = await deathsUnderLoad(
      steward,
      names.slice(0, Math.min(row.containers, row.desiredStates)),
      ctx.kills,
    );
    return {
      ...row,
      invariants: row.desiredStates * (row.invariantsPerDesiredState ?? 1),
      coldStartMs,
      throughputPerSecond: row.desiredStates / (coldStartMs / 1000),
      coldStartPromQueries: promProxy.between(startedAt, startedAt + coldStartMs).length,
      ...(coldRequests
        ? {
            coldStartApiRequests: coldRequests.length,
            coldStartRequestsByKind: requestCounts(coldRequests),
          }
        : {}),
      ...steady,
      ...deaths,
      cpuProfile: profileDir,
    };
  } finally {
    await steward.stop();
    ctx.onLogs?.(steward.logs);
    await promProxy.close();
    await kubeProxy?.proxy.close();
    if (ctx.kube) await cleanKubeNamespace(ctx.kube).catch(() => undefined);
  }
}

async function applyManifest(
  state: string,
  manifest: string,
  row: ScaleRow,
  kube: KubeAccess | undefined,
): Promise<void> {
  const result =
    row.store === "kubernetes" && kube
      ? await run(
          kube.kubectl,
          ["--kubeconfig", kube.kubeconfig, "-n", KUBE_NAMESPACE, "apply", "--server-side", "-f", manifest],
          { maxBuffer: 64 * 1024 * 1024 },
        ).then(
          (r) => ({ code: 0, stderr: r.stderr }),
          (err: Error & { stderr?: string }) => ({ code: 1, stderr: err.stderr ?? err.message }),
        )
      : await cli(state, "apply", "-f", manifest);
  if (result.code !== 0) throw new Error(`apply failed: ${result.stderr}`);
}

/**
 * Every DesiredState reconciled at least once (a drift gauge series each) and the queue
 * drained. Polled every 200 ms, not waitFor's 25: a scrape of a few thousand series costs
 * Steward CPU of its own, which would slow the very start being timed.
 */
async function waitAllReconciled(steward: BenchSteward, count: number, since: number): Promise<number> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const text = await steward.metrics();
    const series = text.match(/^steward_drift\{desiredstate="scale-\d+"\} /gm)?.length ?? 0;
    if (series >= count && metricValue(text, "steward_workqueue_depth", DESIRED_STATE_CONTROLLER) === 0)
      return Date.now() - since;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${count} DesiredStates reconciled (${series} so far)`);
    await sleep(200);
  }
}

async function steadyWindow(
  steward: BenchSteward,
  seconds: number,
  proxies: { prom: CountingProxy; kube: CountingProxy | undefined },
): Promise<
  Pick<
    ScaleResult,
    | "steadyWindowSeconds"
    | "reconcilesPerSecond"
    | "reconcileP50Ms"
    | "reconcileP99Ms"
    | "cpuPercentOfOneCore"
    | "cpuSeconds"
    | "rssMB"
    | "peakRssMB"
    | "prometheusQueriesPerSecond"
    | "apiRequestsPerMinute"
    | "apiRequestsByKind"
  >
> {
  const metricsBefore = await steward.metrics();
  const before = await steward.sample();
  await sleep(seconds * 1000);
  const after = await steward.sample();
  const metricsAfter = await steward.metrics();
  const windowMs = after.at - before.at;
  const buckets = bucketDelta(
    parseHistogram(metricsAfter, "steward_reconcile_duration_seconds", DESIRED_STATE_CONTROLLER),
    parseHistogram(metricsBefore, "steward_reconcile_duration_seconds", DESIRED_STATE_CONTROLLER),
  );
  const reconciles =
    metricValue(metricsAfter, "steward_reconcile_duration_seconds_count", DESIRED_STATE_CONTROLLER) -
    metricValue(metricsBefore, "steward_reconcile_duration_seconds_count", DESIRED_STATE_CONTROLLER);
  const apiRequests = proxies.kube?.between(before.at, after.at);
  return {
    steadyWindowSeconds: windowMs / 1000,
    reconcilesPerSecond: reconciles / (windowMs / 1000),
    reconcileP50Ms: histogramQuantile(0.5, buckets) * 1000,
    reconcileP99Ms: histogramQuantile(0.99, buckets) * 1000,
    cpuPercentOfOneCore: cpuPercent(before, after),
    cpuSeconds: after.cpuSeconds - before.cpuSeconds,
    rssMB: after.rssMB,
    peakRssMB: after.peakRssMB,
    prometheusQueriesPerSecond: proxies.prom.between(before.at, after.at).length / (windowMs / 1000),
    ...(apiRequests
      ? {
          apiRequestsPerMinute: (apiRequests.length * 60_000) / windowMs,
          apiRequestsByKind: requestsPerMinute(apiRequests, windowMs),
        }
      : {}),
  };
}

async function deathsUnderLoad(
  steward: BenchSteward,
  names: readonly string[],
  kills: number,
): Promise<{ detectionMs: Summary; recoveryMs: Summary }> {
  const detection: number[] = [];
  const recovery: number[] = [];
  for (let k = 0; k < kills; k++) {
    const name = names[Math.floor((k * names.length) / kills)] ?? names[0] ?? "";
    const killedAt = await crash(name);
    const restarted = await waitRestarted(name, killedAt);
    const detectedAt = await waitFor(
      () => steward.detectedAt(`container/${name}`, killedAt - 1_000),
      10_000,
      `drift detected for ${name}`,
    );
    detection.push(detectedAt - restarted.finishedAt);
    recovery.push(downtimeMs(restarted));
    await sleep(1_000);
  }
  return { detectionMs: summarize(detection), recoveryMs: summarize(recovery) };
}

interface KubeProxy {
  proxy: CountingProxy;
  kubeconfig: string;
}

/** A kubeconfig for Steward that goes through a counting proxy to the real API server. */
async function startKubeProxy(kube: KubeAccess, dir: string): Promise<KubeProxy> {
  const config = parse(await readFile(kube.kubeconfig, "utf8")) as {
    clusters: { cluster: { server: string; "certificate-authority-data"?: string } }[];
    users: { user: Record<string, unknown> }[];
    contexts: { context: Record<string, unknown> }[];
  };
  const cluster = config.clusters[0]?.cluster;
  if (!cluster) throw new Error(`${kube.kubeconfig}: no cluster`);
  const ca = cluster["certificate-authority-data"]
    ? Buffer.from(cluster["certificate-authority-data"], "base64").toString("utf8")
    : undefined;
  const proxy = new CountingProxy({ upstream: cluster.server, ca });
  const url = await proxy.start();
  const proxied = {
    ...config,
    // Plain http to the proxy on loopback; client-node accepts http only with skip-TLS-verify set.
    clusters: [{ name: "bench", cluster: { server: url, "insecure-skip-tls-verify": true } }],
    contexts: [
      { name: "bench", context: { ...config.contexts[0]?.context, cluster: "bench", namespace: KUBE_NAMESPACE } },
    ],
    "current-context": "bench",
  };
  const path = join(dir, "kubeconfig-proxied");
  await writeFile(path, stringify(proxied), { mode: 0o600 });
  return { proxy, kubeconfig: path };
}

/** The CRDs as crds/ has them, and the bench namespace on the shared control plane, empty (a bare API server has no namespace controller, so it is reused, not deleted). */
export async function prepareKubeNamespace(kube: KubeAccess): Promise<void> {
  const kubectl = (...args: string[]): Promise<unknown> =>
    run(kube.kubectl, ["--kubeconfig", kube.kubeconfig, ...args]);
  // Always: CRDs left from an older checkout would judge today's objects by yesterday's schema.
  await kubectl("apply", "--server-side", "--force-conflicts", "-k", join(ROOT, "crds"));
  await kubectl("create", "namespace", KUBE_NAMESPACE).catch(() => undefined);
  await cleanKubeNamespace(kube);
}

export async function cleanKubeNamespace(kube: KubeAccess): Promise<void> {
  for (const kind of [
    "desiredstates.steward.dev",
    "agentremediations.steward.dev",
    "leases.coordination.k8s.io",
    "events.events.k8s.io",
  ]) {
    await run(
      kube.kubectl,
      ["--kubeconfig", kube.kubeconfig, "-n", KUBE_NAMESPACE, "delete", kind, "--all", "--wait=false"],
      { maxBuffer: 64 * 1024 * 1024 },
    );
  }
}
