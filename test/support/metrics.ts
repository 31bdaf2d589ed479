import type { StewardProcess } from "./steward.js";

/** One sample from a running Steward's /metrics; `labels` as printed, e.g. `{state="open"}`. Undefined when absent. */
export async function metric(steward: StewardProcess, name: string, labels = ""): Promise<number | undefined> {
  const text = await (
    await fetch(`http://${steward.metricsAddress}/metrics`, { signal: AbortSignal.timeout(2_000) })
  ).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}
