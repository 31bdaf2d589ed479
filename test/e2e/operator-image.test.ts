import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, chown, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { docker } from "../../scripts/lib/cluster.js";
import { waitFor } from "../../scripts/lib/wait.js";
import { cluster } from "../support/kube.js";
import { kubectl } from "../support/kubectl.js";
import { tempStateDir } from "../support/steward.js";

const run = promisify(execFile);
const ROOT = new URL("../../", import.meta.url).pathname;
/** Not steward:dev, so a developer's own build of the real image is left alone. */
const IMAGE = "steward-test/operator:dev";
const DOCKER_SOCKET = "/var/run/docker.sock";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once("error", reject);
  });
}

async function status(url: string): Promise<number | undefined> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2_000) })).status;
  } catch {
    return undefined;
  }
}

describe("the operator image (docker/Dockerfile on a stand-in for node:24-slim)", () => {
  const id = randomBytes(4).toString("hex");
  const name = `steward-image-${id}`;
  const inCluster = `steward-image-k8s-${id}`;
  const lease = `steward-image-${id}`;

  before(async () => {
    // npm ci runs inside the build; the layers are cached while package-lock.json is unchanged.
    await run("bash", [`${ROOT}scripts/operator-image.sh`, "build"], {
      env: { ...process.env, STEWARD_IMAGE: IMAGE },
      timeout: 600_000,
    });
  });

  after(async () => {
    await docker("rm", "-f", "-v", name, inCluster).catch(() => undefined);
    await kubectl("delete", "lease", lease, "-n", "default", "--wait=false");
  });

  it("runs as user 10001 with steward as its entrypoint and run --store kubernetes as its command", async () => {
    const config = JSON.parse(await docker("image", "inspect", "-f", "{{json .Config}}", IMAGE)) as {
      User: string;
      Entrypoint: string[];
      Cmd: string[];
    };
    assert.equal(config.User, "10001:10001");
    assert.deepEqual(config.Entrypoint, ["steward"]);
    assert.deepEqual(config.Cmd, ["run", "--store", "kubernetes"]);
    const help = await docker("run", "--rm", "--read-only", "--network", "none", IMAGE, "--help");
    assert.match(help, /^Usage: steward /m);
  });

  it("holds production dependencies only", async () => {
    const script =
      'console.log(["typescript", "eslint", "tsx", "zod"].filter((p) => require("fs").existsSync("node_modules/" + p)).join(" "))';
    const found = await docker(
      "run",
      "--rm",
      "--read-only",
      "--network",
      "none",
      "--entrypoint",
      "node",
      IMAGE,
      "-e",
      script,
    );
    assert.equal(found, "zod");
  });

  it("with the file store and the Docker socket: /healthz and /readyz on 127.0.0.1, read-only root, writes only to the state dir", async () => {
    const port = await freePort();
    const socketGroup = String((await stat(DOCKER_SOCKET)).gid);
    await docker(
      "run",
      "-d",
      "--name",
      name,
      "--read-only",
      "--tmpfs",
      "/tmp",
      "--user",
      "10001:10001",
      "--cap-drop",
      "ALL",
      "--security-opt",
      "no-new-privileges",
      "--network",
      "host",
      // The Docker observer needs the daemon: the socket, and its group for the non-root user.
      "-v",
      `${DOCKER_SOCKET}:${DOCKER_SOCKET}`,
      "--group-add",
      socketGroup,
      IMAGE,
      "run",
      "--store",
      "file",
      "--metrics-addr",
      `127.0.0.1:${port}`,
      "--prometheus-url",
      "http://127.0.0.1:9",
    );
    try {
      await waitFor(async () => (await status(`http://127.0.0.1:${port}/healthz`)) === 200, 30_000, "/healthz 200");
      await waitFor(async () => (await status(`http://127.0.0.1:${port}/readyz`)) === 200, 30_000, "/readyz 200");
    } catch (err) {
      const { stdout, stderr } = await run("docker", ["logs", "--tail", "20", name]);
      throw new Error(`${String(err)}\ncontainer logs:\n${stdout}${stderr}`, { cause: err });
    }
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /^steward_observer_connected\{observer="docker"\} 1$/m);
    // Its state (sessions, audit trails) goes to the state dir volume, the only writable place.
    const written = await docker(
      "exec",
      name,
      "/bin/sh",
      "-c",
      "(echo > /opt/steward/probe) 2>&1; echo > /var/lib/steward/probe && echo state-dir-writable",
    );
    assert.match(written, /Read-only file system/);
    assert.match(written, /state-dir-writable/);
  });

  it("runs the Deployment's command against a real API server: Ready, leader, and a clean exit on SIGTERM that releases the Lease", async () => {
    await cluster();
    // The admin kubeconfig, readable by the image's user only; a Lease and a watched
    // namespace of its own, so no other test's Steward is displaced or disturbed.
    const dir = await tempStateDir();
    const kubeconfig = join(dir, "kubeconfig");
    assert.ok(process.env.KUBECONFIG, "KUBECONFIG is set by scripts/test.sh");
    await writeFile(kubeconfig, await readFile(process.env.KUBECONFIG, "utf8"));
    await chmod(kubeconfig, 0o400);
    await chown(kubeconfig, 10001, 10001);
    const port = await freePort();
    await docker(
      "run",
      "-d",
      "--name",
      inCluster,
      "--read-only",
      "--tmpfs",
      "/tmp",
      "--user",
      "10001:10001",
      "--cap-drop",
      "ALL",
      "--security-opt",
      "no-new-privileges",
      "--network",
      "host",
      "-v",
      `${kubeconfig}:/etc/steward/kubeconfig:ro`,
      "-e",
      "KUBECONFIG=/etc/steward/kubeconfig",
      "-e",
      `POD_NAME=${inCluster}`,
      IMAGE,
      "run",
      "--store",
      "kubernetes",
      "--targets",
      "kubernetes",
      "--metrics-addr",
      `127.0.0.1:${port}`,
      "--lease-name",
      lease,
      "--lease-namespace",
      "default",
      "--watch-namespace",
      `steward-image-${id}`,
    );
    await waitFor(async () => (await status(`http://127.0.0.1:${port}/readyz`)) === 200, 30_000, "/readyz 200");
    const holder = async (): Promise<string> =>
      (await kubectl("get", "lease", lease, "-n", "default", "-o", "jsonpath={.spec.holderIdentity}")).stdout;
    await waitFor(async () => (await holder()).startsWith(`${inCluster}_`), 30_000, "the container to hold its Lease");
    await docker("stop", "-t", "20", inCluster);
    assert.equal(await docker("inspect", "-f", "{{.State.ExitCode}}", inCluster), "0", "node as PID 1 handles SIGTERM");
    assert.equal(await holder(), "", "the Lease was released on the way out");
  });
});
