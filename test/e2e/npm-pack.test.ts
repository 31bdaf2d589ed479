/**
 * `npm pack` makes a package that works (issue 13.7): prepack builds dist/ and records the
 * commit; the tarball installed into an empty project runs `npx steward`. Dependencies come
 * from the npm cache `npm ci` filled (--prefer-offline), else from the registry.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const ROOT = new URL("../../", import.meta.url).pathname;

interface PackResult {
  filename: string;
  files: { path: string }[];
}

describe("npm pack", () => {
  it("packs dist/, bin/ and the CRDs, and npx steward runs from the installed tarball", async () => {
    const out = await mkdtemp(join(tmpdir(), "steward-pack-"));
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", out], {
      cwd: ROOT,
      timeout: 300_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    // Lifecycle scripts (prepack's build) print before the JSON.
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf("["))) as PackResult[];
    assert.ok(packed);
    const paths = packed.files.map((f) => f.path);
    for (const path of [
      "bin/steward",
      "dist/cli/main.js",
      "dist/build-info.json",
      "crds/desiredstates.steward.dev.yaml",
    ])
      assert.ok(paths.includes(path), `${path} is in the package`);
    assert.ok(!paths.some((p) => p.startsWith("src/") || p.startsWith("test/")), "no sources or tests");

    const project = await mkdtemp(join(tmpdir(), "steward-install-"));
    await writeFile(join(project, "package.json"), '{"name": "uses-steward", "private": true}\n');
    await run(
      "npm",
      ["install", "--prefer-offline", "--no-audit", "--no-fund", "--omit=dev", join(out, packed.filename)],
      { cwd: project, timeout: 600_000 },
    );
    const help = await run("npx", ["--no-install", "steward", "--help"], { cwd: project, timeout: 60_000 });
    assert.match(help.stdout, /^Usage: steward \[options\] \[command\]/);
    assert.match(help.stdout, /run \[options\]\s+run the controller/);
    const { stdout: head } = await run("git", ["-C", ROOT, "rev-parse", "--short=12", "HEAD"]);
    const version = await run("npx", ["--no-install", "steward", "--version"], { cwd: project, timeout: 60_000 });
    assert.match(version.stdout, new RegExp(`^steward \\d+\\.\\d+\\.\\d+ \\(commit ${head.trim()}, node v\\d+`));
  });
});
