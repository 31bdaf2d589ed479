import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { waitFor } from "../../scripts/lib/wait.js";
import { tempStateDir } from "../support/steward.js";

/** `steward run`'s /metrics, /healthz and /readyz are reachable from this host only, unless asked. */

const STEWARD = new URL("../../bin/steward", import.meta.url).pathname;

/** Local addresses of the TCP sockets listening on `port`, from /proc (`0100007F` is 127.0.0.1). */
async function listeners(pid: number, port: number): Promise<string[]> {
  const found: string[] = [];
  for (const table of ["tcp", "tcp6"]) {
    const text = await readFile(`/proc/${pid}/net/${table}`, "utf8").catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      const [address, hexPort] = (local ?? "").split(":");
      if (state === "0A" && Number.parseInt(hexPort ?? "", 16) === port) found.push(address ?? "");
    }
  }
  return found;
}

async function portInUse(port: number): Promise<boolean> {
  return (await listeners(process.pid, port)).length > 0;
}

/** Runs `steward run` with `args`, returns where it says it serves metrics and what listens there. */
async function serveAndInspect(args: string[]): Promise<{ url: string; addresses: string[]; healthz: number }> {
  const state = await tempStateDir();
  const child = spawn(
    STEWARD,
    ["--state-dir", state, "run", "--prometheus-url", "http://127.0.0.1:9", "--log-format", "json", ...args],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ANTHROPIC_API_KEY: "" },
    },
  );
  let logs = "";
  child.stdout.on("data", (c: Buffer) => (logs += c.toString()));
  child.stderr.on("data", (c: Buffer) => (logs += c.toString()));
  try {
    const line = await waitFor(
      () => logs.split("\n").find((l) => l.includes("steward is running")),
      30_000,
      `steward run to start: ${logs.slice(-500)}`,
    );
    const url = (JSON.parse(line) as { metrics: string }).metrics;
    const port = Number(new URL(url).port);
    const healthz = (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
    return { url, addresses: await listeners(child.pid ?? 0, port), healthz };
  } finally {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }
}

const defaultPortBusy = await portInUse(9477);

describe("the metrics and health endpoints are bound to loopback by default", () => {
  it(
    "without --metrics-addr: 127.0.0.1:9477 only",
    { skip: defaultPortBusy ? "something else listens on 9477" : false },
    async () => {
      const served = await serveAndInspect([]);
      assert.equal(served.url, "http://127.0.0.1:9477/metrics");
      assert.deepEqual(served.addresses, ["0100007F"]);
      assert.equal(served.healthz, 200);
    },
  );

  it("--metrics-addr :PORT: loopback too, never every interface", async () => {
    const served = await serveAndInspect(["--metrics-addr", ":0"]);
    assert.match(served.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    assert.deepEqual(served.addresses, ["0100007F"]);
  });

  it("every interface only when the address says so (--metrics-addr 0.0.0.0:PORT, as the Deployment does)", async () => {
    const served = await serveAndInspect(["--metrics-addr", "0.0.0.0:0"]);
    assert.deepEqual(served.addresses, ["00000000"]);
  });
});
