import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkImports, layerOf } from "../../scripts/check-layers.js";

describe("the layer check", () => {
  it("places each folder of src/ in its layer, lowest first", () => {
    assert.ok((layerOf("text/redact.ts") ?? 99) < (layerOf("api/load.ts") ?? -1));
    assert.ok((layerOf("reconcile/queue.ts") ?? 99) < (layerOf("agent/runner.ts") ?? -1));
    assert.equal(layerOf("errors.ts"), layerOf("text/escape.ts"));
    assert.equal(layerOf("nowhere/x.ts"), undefined);
  });

  it("accepts imports that point down or stay in their layer", () => {
    const files = new Map([
      [
        "agent/runner.ts",
        'import { x } from "../reconcile/queue.js";\nimport type { y } from "./session.js";\nimport z from "zod";',
      ],
      ["reconcile/queue.ts", 'import { e } from "../errors.js";'],
    ]);
    assert.deepEqual(checkImports(files), []);
  });

  it("names an import that runs up a layer, type-only imports included", () => {
    const files = new Map([["reconcile/evidence.ts", 'import type { AgentRunner } from "../agent/runner.js";']]);
    const [violation, ...rest] = checkImports(files);
    assert.deepEqual(rest, []);
    assert.equal(violation?.from, "reconcile/evidence.ts");
    assert.equal(violation?.to, "agent/runner.ts");
    assert.match(violation?.problem ?? "", /up a layer \(reconcile → agent\)/);
  });

  it("names a file outside every layer and an import leaving src/", () => {
    const files = new Map([
      ["misc/helpers.ts", ""],
      ["cli/main.ts", 'import { y } from "../../test/support/x.js";'],
    ]);
    const problems = checkImports(files).map((v) => `${v.from}: ${v.problem}`);
    assert.equal(problems.length, 2);
    assert.match(problems[0] ?? "", /misc\/helpers.ts: is in no layer/);
    assert.match(problems[1] ?? "", /cli\/main.ts: imports from outside/);
  });
});
