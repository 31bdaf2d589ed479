import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { etcdDesiredState, writeManifest } from "../support/desired-states.js";
import { spawn } from "node:child_process";
import { cli, tempStateDir } from "../support/steward.js";
import { waitFor } from "../../scripts/lib/wait.js";

const ROOT = new URL("../../", import.meta.url).pathname;

describe("steward CLI without a running controller", () => {
  it("applies, gets (table, wide, json List, yaml) and deletes a DesiredState", async () => {
    const state = await tempStateDir();
    const file = await writeManifest(state, "ds.yaml", etcdDesiredState());
    const applied = await cli(state, "apply", "-f", file);
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(applied.stdout.trim(), "desiredstate.steward.dev/etcd created");
    assert.equal((await cli(state, "apply", "-f", file)).stdout.trim(), "desiredstate.steward.dev/etcd unchanged");

    const table = await cli(state, "get", "desiredstates");
    assert.match(table.stdout, /^NAME\s+READY\s+DRIFT\s+REMEDIATION\s+AGE\netcd\s+Unknown\s+0\s+<none>\s+\d+s/m);
    assert.match(
      (await cli(state, "get", "ds", "-o", "wide")).stdout,
      /TARGET\s+SERVICES\s+INVARIANTS\s+LAST RECONCILE\n.*docker:etcd\s+3\s+0\s+<never>/,
    );

    const list = JSON.parse((await cli(state, "get", "desiredstates", "-o", "json")).stdout) as {
      apiVersion: string;
      kind: string;
      items: { metadata: { name: string } }[];
    };
    assert.equal(list.apiVersion, "v1");
    assert.equal(list.kind, "List");
    assert.deepEqual(
      list.items.map((i) => i.metadata.name),
      ["etcd"],
    );
    assert.match(
      (await cli(state, "get", "desiredstate", "etcd", "-o", "yaml")).stdout,
      /^apiVersion: steward.dev\/v1alpha1\nkind: DesiredState/,
    );
    assert.match(
      (await cli(state, "describe", "desiredstate", "etcd")).stdout,
      /Target:\s+docker:etcd[\s\S]*Services:[\s\S]*etcd0/,
    );

    assert.equal((await cli(state, "get", "rem")).stdout.trim(), "No resources found in default namespace.");
    assert.equal((await cli(state, "get", "remediations")).code, 0);
    assert.equal((await cli(state, "get", "remediation")).code, 0);

    assert.equal(
      (await cli(state, "delete", "desiredstate", "etcd")).stdout.trim(),
      "desiredstate.steward.dev/etcd deleted",
    );
    const missing = await cli(state, "get", "ds", "etcd");
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim(), 'error: desiredstate "etcd" not found');
  });

  it("logs and audit verify of a remediation no agent session has run for say so, by name", async () => {
    const state = await tempStateDir();
    const file = await writeManifest(
      state,
      "rem.yaml",
      `apiVersion: steward.dev/v1alpha1
kind: AgentRemediation
metadata: {name: waiting}
spec:
  desiredStateRef: {name: etcd}
  fingerprint: f
  reason: NoSimpleFix
  drift: []
  mode: approve
`,
    );
    const applied = await cli(state, "apply", "-f", file);
    assert.equal(applied.code, 0, applied.stderr);
    for (const command of [["logs"], ["audit", "verify"]]) {
      const result = await cli(state, ...command, "waiting");
      assert.equal(result.code, 1);
      assert.match(result.stderr, /remediation "waiting" has no audit trail yet \(no agent session has run for it\)/);
    }
  });

  it("rejects bad YAML and schema errors with file, document and field, stores nothing, exits 1", async () => {
    const state = await tempStateDir();
    const good = etcdDesiredState({ name: "good" });
    const bad = etcdDesiredState({
      name: "bad",
      invariants: '    - {name: q, query: up, condition: "== 3", for: soon}',
    });
    const file = await writeManifest(state, "state.yaml", `${good}---\n${bad}`);
    const result = await cli(state, "apply", "-f", file);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr.trim(),
      `error: ${file}: document 2: spec.invariants[0].for: expected a duration like "30s", got "soon"`,
    );
    assert.ok(!result.stderr.includes("    at "), "no stack trace without --verbose");
    assert.equal(
      (await cli(state, "get", "ds")).stdout.trim(),
      "No resources found in default namespace.",
      "the valid first document was not stored either",
    );

    const syntax = await writeManifest(state, "broken.yaml", "apiVersion: steward.dev/v1alpha1\nkind: [DesiredState\n");
    const broken = await cli(state, "apply", "-f", syntax);
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /broken.yaml: document 1: invalid YAML/);

    const verbose = await cli(state, "--verbose", "get", "nosuchtype");
    assert.equal(verbose.code, 1);
    assert.match(verbose.stderr, /error: the server doesn't have a resource type "nosuchtype"/);
    assert.match(verbose.stderr, / {4}at /, "--verbose prints the stack");
    const entries = await readdir(state);
    assert.ok(
      !entries.includes("desiredstates") || (await readdir(join(state, "desiredstates", "default"))).length === 0,
    );
  });

  it("get -w prints the list, then a line per change", async () => {
    const state = await tempStateDir();
    await cli(state, "apply", "-f", await writeManifest(state, "a.yaml", etcdDesiredState({ name: "first" })));
    const watcher = spawn(join(ROOT, "bin/steward"), ["--state-dir", state, "get", "ds", "-w"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    watcher.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
    try {
      await waitFor(() => /^NAME\s+READY[\s\S]*\nfirst\s/m.test(out), 10_000, "the initial list");
      await cli(state, "apply", "-f", await writeManifest(state, "b.yaml", etcdDesiredState({ name: "second" })));
      await waitFor(() => /\nsecond\s+Unknown\s+0\s+<none>/.test(out), 5_000, "a line for the new object");
      assert.equal(out.match(/^NAME/gm)?.length, 1, "the header is printed once");
    } finally {
      watcher.kill("SIGINT");
    }
    const code = await new Promise((resolve) => watcher.once("exit", resolve));
    assert.equal(code, 0, "interrupting -w exits 0");
  });

  it("validates the shipped examples: etcd and the seed's TiKV topology", async () => {
    const state = await tempStateDir();
    for (const example of ["examples/etcd/desired-state.yaml", "examples/tikv/desired-state.yaml"]) {
      const result = await cli(state, "apply", "-f", join(ROOT, example));
      assert.equal(result.code, 0, `${example}: ${result.stderr}`);
    }
    const names = JSON.parse((await cli(state, "get", "ds", "-o", "json")).stdout) as {
      items: { metadata: { name: string }; spec: { services: unknown[] } }[];
    };
    assert.deepEqual(
      names.items.map((i) => [i.metadata.name, i.spec.services.length]),
      [
        ["etcd", 4],
        ["tikv", 9],
      ],
    );
  });
});
