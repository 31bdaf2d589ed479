import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { controlPlaneRunDir } from "../support/control-plane.js";
import { writeManifest } from "../support/desired-states.js";
import { kubectl, kubectlOk } from "../support/kubectl.js";
import { busyboxDeployment, clusterWithNode, waitForCluster, NODE_NAME, readyPods } from "../support/node.js";
import { tempStateDir } from "../support/steward.js";

/**
 * scripts/control-plane.sh's node on the host: what kubelet changes while it runs (kernel
 * sysctls, cgroups, mounts, host paths, processes) is all undone by `down-node`, and
 * `up --node` brings the same cluster its node back.
 */

const run = promisify(execFile);
const SCRIPT = new URL("../../scripts/control-plane.sh", import.meta.url).pathname;
/** A number no other process on the machine sleeps for: the pod's process, found on the host. */
const MARKER = String(4_000_000 + Math.floor(Math.random() * 1_000_000));

async function controlPlane(...args: string[]): Promise<string> {
  const { stdout, stderr } = await run("bash", [SCRIPT, ...args], {
    env: { ...process.env, STEWARD_K8S_RUN: controlPlaneRunDir() },
    timeout: 300_000,
  });
  return stdout + stderr;
}

/** Pids whose argv passes the test. */
async function processes(test: (argv: string[]) => boolean): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline !== "" && test(cmdline.split("\0"))) pids.push(Number(entry));
  }
  return pids;
}

/** The pod's `sleep MARKER` (not the shell that started it, whose script holds the words too). */
const podProcesses = (): Promise<number[]> => processes((argv) => argv[0] === "sleep" && argv[1] === MARKER);
/** Processes with an argument that mentions `text` (a path of the run dir). */
const mentioning = (text: string): Promise<number[]> => processes((argv) => argv.some((a) => a.includes(text)));

async function sysctl(name: string): Promise<string> {
  return (await readFile(`/proc/sys/${name.replaceAll(".", "/")}`, "utf8")).trim();
}

async function kubepodsCgroups(): Promise<string[]> {
  const hierarchies = await readdir("/sys/fs/cgroup");
  return hierarchies.map((h) => `/sys/fs/cgroup/${h}/kubepods`).filter((p) => existsSync(p));
}

async function mountsUnder(dir: string): Promise<string[]> {
  const lines = (await readFile("/proc/self/mountinfo", "utf8")).split("\n");
  return lines.map((l) => l.split(" ")[4] ?? "").filter((p) => p.startsWith(`${dir}/`));
}

describe("the test node on the host: down-node undoes what kubelet did, up --node brings it back", () => {
  const namespace = `steward-node-${randomBytes(3).toString("hex")}`;
  let runDir: string;

  before(async () => {
    await clusterWithNode();
    runDir = controlPlaneRunDir();
    const dir = await tempStateDir();
    await kubectlOk("create", "namespace", namespace);
    const marker = busyboxDeployment({ namespace, name: "marker", replicas: 1, script: `sleep ${MARKER} & wait` });
    await kubectlOk("apply", "-f", await writeManifest(dir, "marker.yaml", marker));
    await readyPods(namespace, "marker", 1);
  });

  after(async () => {
    await kubectl("delete", "namespace", namespace, "--wait=false");
  });

  it("down-node: every container stopped, the sysctls back, no kubepods cgroup, no mount, no host path left", async () => {
    const original = (await readFile(join(runDir, "node.sysctls"), "utf8")).trim().split("\n");
    const hostPaths = (await readFile(join(runDir, "node.host-paths"), "utf8")).split("\n").filter(Boolean);
    // While it runs: the pod's process is on the host, and kubelet has done its part.
    assert.equal((await podProcesses()).length, 1, "the pod's process runs on the host");
    assert.equal(await sysctl("kernel.panic"), "10", "kubelet set kernel.panic");
    assert.notDeepEqual(await kubepodsCgroups(), []);
    assert.notDeepEqual(await mountsUnder(runDir), []);
    const { stdout: rules } = await run("iptables-save", [], { timeout: 10_000 });
    assert.doesNotMatch(rules, /KUBE-/, "kubelet made no iptables chains (makeIPTablesUtilChains: false)");

    const output = await controlPlane("down-node");
    assert.match(output, /node stopped/);
    assert.deepEqual(await podProcesses(), [], "the pod's process is gone");
    assert.deepEqual(await mentioning(join(runDir, "node")), [], "no kubelet, containerd or shim is left");
    assert.deepEqual(
      await processes((argv) => argv[0]?.endsWith("/kube-scheduler") === true && argv.some((a) => a.includes(runDir))),
      [],
      "no scheduler is left",
    );
    for (const line of original) {
      const [name = "", value] = line.split("=");
      assert.equal(await sysctl(name), value, `${name} restored`);
    }
    assert.deepEqual(await kubepodsCgroups(), []);
    assert.deepEqual(await mountsUnder(runDir), []);
    for (const path of hostPaths) assert.equal(existsSync(path), false, `${path} removed`);
    assert.equal(existsSync(join(runDir, "node")), false);
    assert.notEqual((await kubectl("get", "node", NODE_NAME)).code, 0, "the node object is deleted");
  });

  it("up --node: the node is Ready again and the Deployment's pod runs on it", async () => {
    assert.match(await controlPlane("up", "--node"), /node 127\.0\.0\.1 Ready in \d+s/);
    await readyPods(namespace, "marker", 1);
    await waitForCluster(async () => (await podProcesses()).length === 1, 10_000, "the new pod's process");
  });
});
