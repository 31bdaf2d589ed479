import { waitFor } from "../../scripts/lib/wait.js";
import type { ControllerLabel } from "../../src/telemetry/metrics.js";

/** Where a Steward serves /metrics: a running StewardProcess, or `host:port`. */
export type MetricsSource = { metricsAddress: string } | string;

async function scrape(source: MetricsSource): Promise<string> {
  const address = typeof source === "string" ? source : source.metricsAddress;
  return (await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
}

/** One sample from a running Steward's /metrics; `labels` as printed, e.g. `{state="open"}`. Undefined when absent. */
export async function metric(source: MetricsSource, name: string, labels = ""): Promise<number | undefined> {
  const line = (await scrape(source)).split("\n").find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

/** The sum of a metric's samples whose labels contain every `key="value"` in `match` (all samples when empty). */
export async function metricSum(
  source: MetricsSource,
  name: string,
  match: Record<string, string> = {},
): Promise<number> {
  const wanted = Object.entries(match).map(([k, v]) => `${k}="${v}"`);
  return (await scrape(source))
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .filter((l) => wanted.every((w) => (/^[^{ ]*\{([^}]*)\}/.exec(l)?.[1] ?? "").split(",").includes(w)))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}

/** Reconciles one controller has finished (any result). */
export function reconciles(source: MetricsSource, controller: ControllerLabel): Promise<number> {
  return metricSum(source, "steward_reconcile_total", { controller });
}

/**
 * Waits until `controller` has finished `count` more reconciles than it had when called: the
 * positive signal to wait for before checking that something did NOT happen. Reconciles of
 * one key never overlap, so with one object the last `count - 1` of them all began after this
 * call; `count` of at least 2 thus proves a whole reconcile ran on the state as it is now.
 */
export async function moreReconciles(
  source: MetricsSource,
  controller: ControllerLabel,
  count: number,
  timeoutMs = 30_000,
): Promise<void> {
  const from = await reconciles(source, controller);
  await waitFor(
    async () => (await reconciles(source, controller)) >= from + count,
    timeoutMs,
    `${count} more ${controller} reconciles (from ${from})`,
  );
}

/**
 * Waits until `controller` has finished at least one reconcile and has nothing left to do:
 * no key waiting and none being reconciled. The positive signal for "nothing more happens"
 * where nothing would make the controller reconcile again (a converged DesiredState is
 * reconciled on a change, not on a timer: ADR 0010).
 */
export async function settled(source: MetricsSource, controller: ControllerLabel, timeoutMs = 30_000): Promise<void> {
  const label = `{controller="${controller}"}`;
  await waitFor(
    async () =>
      (await reconciles(source, controller)) >= 1 &&
      (await metric(source, "steward_workqueue_depth", label)) === 0 &&
      (await metric(source, "steward_workqueue_longest_running_processor_seconds", label)) === 0,
    timeoutMs,
    `the ${controller} controller settled`,
  );
}
