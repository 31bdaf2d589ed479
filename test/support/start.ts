import { ensureCluster } from "../../scripts/lib/cluster.js";
import { writeManifest } from "./desired-states.js";
import { condition, getDesiredState } from "./status.js";
import { cli, StewardProcess, tempStateDir } from "./steward.js";
import { waitFor } from "../../scripts/lib/wait.js";

/** `steward run` on a fresh state dir with one DesiredState applied. */
export async function startWith(manifest: string): Promise<{ state: string; steward: StewardProcess }> {
  const state = await tempStateDir();
  const steward = new StewardProcess(state);
  await steward.start();
  const applied = await cli(state, "apply", "-f", await writeManifest(state, "ds.yaml", manifest));
  if (applied.code !== 0) throw new Error(`apply failed: ${applied.stderr}`);
  return { state, steward };
}

/** The etcd cluster up, Steward running with `manifest`, and the DesiredState `name` Ready. */
export async function startReady(manifest: string, name = "etcd"): Promise<{ state: string; steward: StewardProcess }> {
  await ensureCluster();
  const started = await startWith(manifest);
  await waitFor(
    async () => condition(await getDesiredState(started.state, name), "Ready") === "True/AsDeclared",
    30_000,
    `${name} Ready`,
  );
  return started;
}
