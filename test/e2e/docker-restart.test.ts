import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { containerState, docker, ensureCluster } from "../../scripts/lib/cluster.js";
import { etcdDesiredState } from "../support/desired-states.js";
import { condition, getDesiredState } from "../support/status.js";
import { startReady } from "../support/start.js";
import type { StewardProcess } from "../support/steward.js";
import { waitFor } from "../../scripts/lib/wait.js";

const run = promisify(execFile);
const ENGINES = new URL("../../scripts/engines.sh", import.meta.url).pathname;

describe("dockerd restarted while steward run runs", () => {
  let state: string;
  let steward: StewardProcess;

  before(async () => {
    ({ state, steward } = await startReady(etcdDesiredState()));
  });

  after(async () => {
    await steward.stop();
    await ensureCluster();
  });

  it("the event stream reconnects and a stop after that is still fixed", async () => {
    await run("bash", [ENGINES, "restart-docker"], { timeout: 120_000 });
    await waitFor(() => steward.logsMatching(/"docker connection".*"state":"disconnected"/).length > 0, 30_000, "steward to notice the daemon went away");
    await waitFor(() => steward.logsMatching(/"docker connection".*"state":"connected"/).length > 1, 60_000, "steward to reconnect to the new daemon");
    // Containers without live-restore died with the old daemon; Steward starts them again either way.
    await ensureCluster();
    await waitFor(async () => condition(await getDesiredState(state, "etcd"), "Ready") === "True/AsDeclared", 30_000, "Ready after the restart");

    await docker("stop", "-t", "1", "etcd0");
    await waitFor(async () => (await containerState("etcd0")) === "running", 20_000, "etcd0 started again after the daemon restart");
    const ds = await getDesiredState(state, "etcd");
    assert.ok(ds?.status?.fixes.some((f) => f.subject === "container/etcd0" && f.result === "Succeeded"));
  });
});
