import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FileStore } from "../../src/store/file/file-store.js";
import { desiredState, storeContract } from "./contract.js";

storeContract("FileStore", {
  fresh: async (options = {}) => new FileStore(await mkdtemp(join(tmpdir(), "steward-store-")), options),
  peer: (store) => Promise.resolve(new FileStore((store as FileStore).dir)),
});

describe("FileStore on disk", () => {
  it("keeps one YAML file per object and leaves no temp or lock files behind", async () => {
    const dir = await mkdtemp(join(tmpdir(), "steward-store-"));
    const store = new FileStore(dir);
    await store.apply(desiredState("a"));
    await store.apply(desiredState("a", "b"));
    const files = await readdir(join(dir, "desiredstates", "default"));
    assert.deepEqual(files, ["a.yaml"]);
    assert.match(await readFile(join(dir, "desiredstates", "default", "a.yaml"), "utf8"), /project: b/);
  });

  it("reports a corrupt object file by path instead of acting on it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "steward-store-"));
    const store = new FileStore(dir);
    await store.apply(desiredState("a"));
    await writeFile(
      join(dir, "desiredstates", "default", "a.yaml"),
      "apiVersion: steward.dev/v1alpha1\nkind: DesiredState\nmetadata: {name: a}\n",
    );
    await assert.rejects(store.list("DesiredState"), /a.yaml is not a valid stored object: spec: /);
  });
});
