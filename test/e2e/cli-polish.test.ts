/**
 * The CLI as a user meets it (issue 13.7): --version, shell completion in real bash, zsh
 * and fish, -n and -A on get, and help that says where Kubernetes comes in. Runs the built
 * CLI (bin/steward); the shells are Debian's (scripts/engines.sh installs them).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { promisify } from "node:util";
import { writeManifest } from "../support/desired-states.js";
import { cli, cliEnv, tempStateDir } from "../support/steward.js";

const run = promisify(execFile);
const ROOT = new URL("../../", import.meta.url).pathname;

/** Runs `script` in `shell` with `steward` on PATH; stdout. */
async function inShell(shell: "bash" | "zsh" | "fish", script: string, path: string): Promise<string> {
  const args = shell === "zsh" ? ["-f", "-c", script] : ["-c", script];
  const { stdout } = await run(shell, args, {
    timeout: 30_000,
    cwd: path,
    env: cliEnv({ PATH: `${path}:${process.env.PATH ?? ""}`, HOME: path }),
  });
  return stdout;
}

describe("steward --version", () => {
  it("prints the package version, the commit of this checkout and the Node version", async () => {
    const { version } = (await import("../../package.json", { with: { type: "json" } })).default as {
      version: string;
    };
    const { stdout: head } = await run("git", ["-C", ROOT, "rev-parse", "--short=12", "HEAD"]);
    const result = await cli(await tempStateDir(), "--version");
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), `steward ${version} (commit ${head.trim()}, node ${process.version})`);
  });

  it("the root help says where Kubernetes comes in", async () => {
    // Commander wraps the text at the terminal width: compare it as one line.
    const help = (await cli(await tempStateDir(), "--help")).stdout.replace(/\s+/g, " ");
    assert.match(help, /--store kubernetes in a Kubernetes cluster as custom resources/);
    assert.match(help, /kubectl get, apply, explain and wait work on them/);
    assert.match(help, /-V, --version/);
    assert.match(help, /completion <shell>/);
  });
});

describe("shell completion (steward completion bash|zsh|fish)", () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "steward-completion-"));
    await symlink(join(ROOT, "bin/steward"), join(dir, "steward"));
    await writeManifest(dir, "shop.yaml", "kind: DesiredState\n");
  });

  const lines = (text: string): string[] => text.split("\n").filter((l) => l !== "");

  it("bash: commands, resource types, -o formats, and file names after -f", async () => {
    const complete = (words: string[]): Promise<string> =>
      inShell(
        "bash",
        `source <(steward completion bash); COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _steward; printf '%s\\n' "\${COMPREPLY[@]}"`,
        dir,
      );
    assert.deepEqual(lines(await complete(["steward", "ge"])), ["get"]);
    assert.deepEqual(lines(await complete(["steward", "get", "remediationp"])), [
      "remediationpolicies",
      "remediationpolicy",
    ]);
    assert.deepEqual(lines(await complete(["steward", "get", "ds", "-o", ""])), ["wide", "yaml", "json", "name"]);
    assert.deepEqual(lines(await complete(["steward", "apply", "-f", "sh"])), ["shop.yaml"]);
  });

  it("fish: its own completion engine (complete -C) offers the same", async () => {
    const complete = (line: string): Promise<string> =>
      inShell("fish", `steward completion fish | source; complete -C ${JSON.stringify(line)}`, dir);
    assert.deepEqual(lines(await complete("steward comp")), ["completion"]);
    assert.deepEqual(lines(await complete("steward completion ")).sort(), ["bash", "fish", "zsh"]);
    assert.deepEqual(lines(await complete("steward run --log-format ")).sort(), ["json", "text"]);
    assert.deepEqual(lines(await complete("steward apply -f sh")), ["shop.yaml"]);
  });

  it("zsh: the script loads in zsh and hands compadd the candidates (compadd and _files exist only inside the completion system, so they print here)", async () => {
    const complete = (words: string[]): Promise<string> =>
      inShell(
        "zsh",
        `compdef() { :; }; compadd() { [[ $1 == -- ]] && shift; print -l -- "$@"; }; _files() { print FILES; }
source <(steward completion zsh); words=(${words.map((w) => `'${w}'`).join(" ")}); CURRENT=${words.length}; _steward`,
        dir,
      );
    assert.deepEqual(lines(await complete(["steward", "de"])), ["describe", "delete", "deny"]);
    assert.deepEqual(lines(await complete(["steward", "get", "ds", "--all"])), ["--all-namespaces"]);
    assert.deepEqual(lines(await complete(["steward", "apply", "-f", "s"])), ["FILES"]);
  });

  it("an unknown shell is refused with the choices", async () => {
    const result = await cli(await tempStateDir(), "completion", "tcsh");
    assert.equal(result.code, 1);
    assert.match(result.stderr, /value 'tcsh' is invalid for argument 'shell'\. Allowed choices are bash, zsh, fish/);
  });
});

describe("get -n and -A", () => {
  let state: string;

  before(async () => {
    state = await tempStateDir();
    const ds = (name: string, namespace: string): string =>
      `apiVersion: steward.dev/v1alpha1\nkind: DesiredState\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec:\n  target: {docker: {project: ${name}}}\n`;
    const file = await writeManifest(state, "two.yaml", `${ds("web", "shop")}---\n${ds("db", "default")}`);
    const applied = await cli(state, "apply", "-f", file);
    assert.equal(applied.code, 0, applied.stderr);
  });

  it("-n lists that namespace only, after the command as before it", async () => {
    for (const args of [
      ["get", "ds", "-n", "shop"],
      ["-n", "shop", "get", "ds"],
    ]) {
      const out = (await cli(state, ...args)).stdout;
      assert.match(out, /^web\s/m, args.join(" "));
      assert.doesNotMatch(out, /^db\s/m, args.join(" "));
    }
    assert.match((await cli(state, "get", "ds")).stdout, /^db\s/m, "without -n: default");
  });

  it("an empty namespace is named in the message", async () => {
    assert.equal((await cli(state, "get", "rem", "-n", "shop")).stdout.trim(), "No resources found in shop namespace.");
  });

  it("-A lists every namespace with a NAMESPACE column; a name with -A is refused", async () => {
    const out = (await cli(state, "get", "ds", "-A")).stdout;
    assert.match(out, /^NAMESPACE\s+NAME\s+READY\s+DRIFT\s+REMEDIATION\s+AGE$/m);
    assert.match(out, /^default\s+db\s/m);
    assert.match(out, /^shop\s+web\s/m);
    const json = JSON.parse((await cli(state, "get", "ds", "--all-namespaces", "-o", "json")).stdout) as {
      items: { metadata: { namespace: string } }[];
    };
    assert.deepEqual(json.items.map((i) => i.metadata.namespace).sort(), ["default", "shop"]);
    const named = await cli(state, "get", "ds", "web", "-A");
    assert.equal(named.code, 1);
    assert.match(named.stderr, /cannot be retrieved by name across all namespaces/);
  });
});
