/**
 * What the CLI prints (issue 6, item 3): object names, labels, log lines and messages
 * come from the watched systems and may carry terminal escapes, bidi overrides and
 * zero-width characters. `get` (table, wide, yaml, json), `describe` and error lines never
 * write one raw; newline and tab only where they are layout.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parse } from "yaml";
import type { Resource } from "../../src/api/resources.js";
import { describeResource } from "../../src/cli/describe.js";
import { formatObjects, tableHeaders, tableRow } from "../../src/cli/printers.js";
import { formatTable } from "../../src/cli/table.js";
import { FULL_RESOURCES, hostileText, invisibleIn } from "../support/hostile.js";

/** `resource` with every string (values and map keys, not apiVersion/kind) taken from `texts`, in turn. */
function poison(resource: Resource, texts: readonly string[]): Resource {
  let i = 0;
  const next = (): string => texts[i++ % texts.length] ?? "";
  const walk = (value: unknown, key?: string): unknown => {
    if (typeof value === "string") return key === "apiVersion" || key === "kind" ? value : next();
    if (Array.isArray(value)) return value.map((v) => walk(v));
    if (typeof value === "object" && value !== null) {
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [
          key === "labels" || key === "selector" ? `${k}${next()}` : k,
          walk(v, k),
        ]),
      );
    }
    return value;
  };
  return walk(resource) as Resource;
}

const poisoned = fc
  .tuple(fc.constantFrom(...FULL_RESOURCES), fc.array(hostileText(), { minLength: 1, maxLength: 30 }))
  .map(([resource, texts]) => poison(resource, texts));
const NOW = new Date("2026-01-02T00:00:00Z");

describe("CLI output of hostile objects (property)", () => {
  it("get: a table has one line per object and no control or invisible character", () => {
    fc.assert(
      fc.property(fc.array(poisoned, { minLength: 1, maxLength: 3 }), fc.boolean(), (items, wide) => {
        const kind = items[0]?.kind ?? "DesiredState";
        const same = items.filter((r) => r.kind === kind);
        const out = formatTable(
          tableHeaders(kind, wide),
          same.map((r) => tableRow(kind, r as never, wide, NOW)),
        );
        assert.equal(invisibleIn(out, "\n"), undefined);
        assert.equal(out.split("\n").length, same.length + 1);
      }),
      { numRuns: Number(process.env.RUNS ?? 150) },
    );
  });

  it("describe: no control or invisible character but newline and tab", () => {
    fc.assert(
      fc.property(poisoned, (r) => assert.equal(invisibleIn(describeResource(r, NOW), "\n\t"), undefined)),
      { numRuns: Number(process.env.RUNS ?? 150) },
    );
  });

  it("-o yaml and -o json: no control or invisible character but newline and tab, and they read back as the same object", () => {
    fc.assert(
      fc.property(poisoned, fc.boolean(), (r, single) => {
        const yaml = formatObjects([r], "yaml", single);
        const json = formatObjects([r], "json", single);
        assert.equal(invisibleIn(yaml, "\n\t"), undefined);
        assert.equal(invisibleIn(json, "\n"), undefined);
        const expected: unknown = JSON.parse(
          JSON.stringify(single ? r : { apiVersion: "v1", kind: "List", items: [r] }),
        );
        assert.deepEqual(parse(`${yaml}\n`), expected); // as printed: the CLI ends every output with a newline
        assert.deepEqual(JSON.parse(json), expected);
      }),
      { numRuns: Number(process.env.RUNS ?? 150) },
    );
  });
});

describe("CLI output of hostile objects: regressions", () => {
  // Before the fix each of these reached the terminal raw.
  const ds = FULL_RESOURCES[0] as Extract<Resource, { kind: "DesiredState" }>;
  const rem = FULL_RESOURCES[3] as Extract<Resource, { kind: "AgentRemediation" }>;

  it("a log line clearing the screen and retitling the window is shown escaped by describe", () => {
    const drift = rem.spec.drift.map((d) => ({
      ...d,
      evidence: {
        ...d.evidence,
        containers: [{ name: "etcd0", state: "exited", logs: ["\x1b[2J\x1b]0;pwned\x07ok\rFAIL"] }],
      },
    }));
    const out = describeResource({ ...rem, spec: { ...rem.spec, drift } }, NOW);
    assert.match(out, /\| \\u001b\[2J\\u001b\]0;pwned\\u0007ok\\u000dFAIL/);
  });

  it("a bidi override in a selector label is shown escaped in get -o wide", () => {
    const target = { docker: { selector: { "role\u202e": "x\u200by" } } };
    const row = tableRow("DesiredState", { ...ds, spec: { ...ds.spec, target } }, true, NOW);
    const out = formatTable(tableHeaders("DesiredState", true), [row]);
    assert.match(out, /docker:role\\u202e=x\\u200by/);
  });

  it("a condition message with a newline stays in its table cell", () => {
    const conditions = [
      { type: "Ready", status: "False" as const, reason: "r", message: "line1\nREADY   True", lastTransitionTime: "t" },
    ];
    const out = describeResource(
      { ...ds, status: { ...ds.status, conditions, drift: [], invariants: [], fixes: [] } },
      NOW,
    );
    assert.match(out, /line1\\u000aREADY {3}True/);
  });

  it("-o yaml writes a C1 CSI and a bidi override as YAML escapes", () => {
    const out = formatObjects([{ ...ds, metadata: { ...ds.metadata, labels: { a: "\x9b2J\u202eb" } } }], "yaml", true);
    assert.match(out, /a: "\\u009b2J\\u202eb"/);
  });

  it("-o yaml keeps the trailing newline of a last value (it used to trim it off)", () => {
    const out = formatObjects(
      [
        {
          ...ds,
          status: { ...ds.status, conditions: [], drift: [], invariants: [], fixes: [], activeRemediation: "x\n" },
        },
      ],
      "yaml",
      true,
    );
    assert.equal((parse(`${out}\n`) as { status: { activeRemediation: string } }).status.activeRemediation, "x\n");
  });

  it("-o json writes DEL and a zero-width space as JSON escapes", () => {
    const out = formatObjects([{ ...ds, metadata: { ...ds.metadata, labels: { a: "\x7f\u200b" } } }], "json", true);
    assert.match(out, /"a": "\\u007f\\u200b"/);
  });
});
