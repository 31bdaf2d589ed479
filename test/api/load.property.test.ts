/**
 * Hostile and bad manifests (issue 6, item 3): whatever the text, parseManifestText
 * returns problems naming the file, the document and the field path, never throws, and
 * never echoes raw control characters; a resource it accepted comes back the same after
 * being written out as YAML or JSON.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { stringify } from "yaml";
import { formatPath, MAX_YAML_ALIAS_COUNT, parseManifestText, validateResource } from "../../src/api/load.js";
import { DesiredState } from "../../src/api/desired-state.js";
import { RemediationPolicy } from "../../src/api/policy.js";
import type { Resource } from "../../src/api/resources.js";
import { formatObjects } from "../../src/cli/printers.js";
import {
  FULL_RESOURCES,
  dnsName,
  fieldPaths,
  hostileText,
  invisibleIn,
  replaceAt,
  wrongTypesFor,
} from "../support/hostile.js";

const FILE = "f.yaml";

/** What every problem looks like, whatever the input: file, document, then what is wrong, on one line. */
function assertWellFormed(problems: readonly string[]): void {
  for (const p of problems) {
    assert.match(p, /^f\.yaml: (document \d+: )?\S/, p);
    assert.equal(invisibleIn(p), undefined);
    assert.ok(p.length <= 1_100, `problem of ${p.length} characters`);
  }
}

function parse(text: string): ReturnType<typeof parseManifestText> {
  const result = parseManifestText(text, FILE);
  assertWellFormed(result.problems);
  return result;
}

const laughs = (levels: number): string => {
  const lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < levels; i++)
    lines.push(
      `l${i}: &l${i} [${Array(9)
        .fill(`*l${i - 1}`)
        .join(",")}]`,
    );
  return `${lines.join("\n")}\n`;
};

describe("hostile manifests: regressions found by the properties", () => {
  // Each was an unhandled exception (TypeError/ReferenceError) or a raw control character
  // in the message before the fix.
  const cases: [string, string, RegExp][] = [
    [
      "kind naming an Object.prototype member",
      "apiVersion: steward.dev/v1alpha1\nkind: constructor\n",
      /document 1: kind: expected one of DesiredState, AgentRemediation, RemediationPolicy, NotificationPolicy, got "constructor"/,
    ],
    ["kind: __proto__", "apiVersion: steward.dev/v1alpha1\nkind: __proto__\n", /document 1: kind: expected one of/],
    ["kind: toString", "apiVersion: steward.dev/v1alpha1\nkind: toString\n", /document 1: kind: expected one of/],
    [
      "billion laughs (alias expansion)",
      laughs(9),
      new RegExp(`document 1: invalid YAML: Excessive alias count.*more than ${MAX_YAML_ALIAS_COUNT} alias expansions`),
    ],
    ["an alias with no anchor", "a: *nowhere\n", /document 1: invalid YAML: Unresolved alias.*nowhere/],
    ["5 000 nested flow sequences", `${"[".repeat(5_000)}${"]".repeat(5_000)}`, /document 1: invalid YAML: /],
    [
      "3 000 nested block mappings",
      `${Array.from({ length: 3_000 }, (_, i) => `${" ".repeat(i)}a:`).join("\n")} 1\n`,
      /document 1: invalid YAML: /,
    ],
    [
      "an escape sequence in a key",
      'apiVersion: steward.dev/v1alpha1\nkind: DesiredState\nmetadata: {name: x, labels: {"a\\e]0;pwned\\a.b": 5}}\nspec: {target: {docker: {project: x}}}\n',
      /metadata\.labels\["a\\u001b\]0;pwned\\u0007\.b"\]: Invalid input: expected string/,
    ],
    [
      "a bidi override and C1 CSI in a value",
      'apiVersion: steward.dev/v1alpha1\nkind: "Desired\\u202eState\\x9b2J"\n',
      /kind: expected .*got "Desired\\u202eState\\u009b2J"/,
    ],
    [
      "a megabyte-long kind",
      `apiVersion: steward.dev/v1alpha1\nkind: ${"K".repeat(1_000_000)}\n`,
      /kind: expected one of .*got "KKKK.*… \(cut\)$/,
    ],
  ];
  for (const [title, text, expected] of cases) {
    it(`reports ${title} as a problem`, () => {
      const { resources, problems } = parse(text);
      assert.equal(resources.length, 0);
      assert.match(problems.join("\n"), expected);
    });
  }

  it("quotes a field path key that is not a plain identifier", () => {
    assert.equal(
      formatPath(["metadata", "labels", "app.kubernetes.io/name"]),
      'metadata.labels["app.kubernetes.io/name"]',
    );
    assert.equal(formatPath(["spec", "services", 0, "name"]), "spec.services[0].name");
    assert.equal(formatPath(["a b", "x\ny"]), '["a b"]["x\\ny"]');
  });

  it("validateResource returns a problem for a kind naming an Object.prototype member", () => {
    assert.deepEqual(validateResource({ apiVersion: "steward.dev/v1alpha1", kind: "hasOwnProperty" }), {
      ok: false,
      problems: [
        'kind: expected one of DesiredState, AgentRemediation, RemediationPolicy, NotificationPolicy, got "hasOwnProperty"',
      ],
    });
  });
});

describe("hostile manifests (property)", () => {
  it("any text: problems, never an exception", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (text) => void parse(text)),
      { numRuns: 300 },
    );
  });

  it("YAML token soup with anchors, aliases, tags, merges and directives: problems, never an exception", () => {
    const token = fc.oneof(
      fc.constantFrom(
        "\n",
        "\n  ",
        "\n- ",
        ": ",
        "- ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "? ",
        "---\n",
        "...\n",
        "%YAML 1.1\n",
        "%TAG ! tag:x,2000:\n",
        "<<: ",
        "!!str ",
        "!!map ",
        "!!binary ",
        "!x ",
        "|\n  ",
        ">-\n  ",
        "'",
        '"',
        "#",
        "~",
        "null",
        "apiVersion: steward.dev/v1alpha1\n",
        "kind: DesiredState\n",
        "kind: constructor\n",
        "metadata: ",
        "spec: ",
        "name: ",
        "__proto__: ",
      ),
      fc.stringMatching(/^[&*][a-c]$/).map((a) => `${a} `),
      hostileText(3),
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 40 }), (tokens) => void parse(tokens.join(""))),
      { numRuns: 400 },
    );
  });

  it("any JSON-like value as a document, alone or under apiVersion and kind: problems, never an exception", () => {
    const kind = fc.constantFrom("DesiredState", "AgentRemediation", "RemediationPolicy", "constructor", "__proto__");
    const doc = fc.oneof(
      fc.anything({ maxDepth: 4 }),
      fc.record({
        apiVersion: fc.constant("steward.dev/v1alpha1"),
        kind,
        metadata: fc.anything({ maxDepth: 3 }),
        spec: fc.anything({ maxDepth: 4 }),
      }),
    );
    fc.assert(
      fc.property(doc, (value) => {
        let text: string;
        try {
          text = stringify(value);
        } catch {
          return; // not representable as YAML (a symbol, a function): nothing to parse
        }
        parse(text);
      }),
      { numRuns: 300 },
    );
  });

  it("a wrong type at every field path of every kind is reported at that path", () => {
    let checked = 0;
    for (const resource of FULL_RESOURCES) {
      for (const path of fieldPaths(resource)) {
        for (const wrong of wrongTypesFor(pathValue(resource, path))) {
          const result = validateResource(replaceAt(resource, path, wrong));
          const problems = result.ok ? [] : result.problems;
          assert.ok(!result.ok, `${formatPath(path)} = ${JSON.stringify(wrong)} was accepted`);
          assert.ok(
            problems.some((p) => p.startsWith(`${formatPath(path)}:`)),
            `${formatPath(path)} = ${JSON.stringify(wrong)}: ${problems.join(" | ")}`,
          );
          checked++;
        }
      }
    }
    assert.ok(checked > 1_000, `only ${checked} mutations`);
  });

  it("a wrong type at a field path, through YAML: the problem names the file, the document and the path", () => {
    const mutation = fc
      .constantFrom(...FULL_RESOURCES)
      .chain((resource) =>
        fc
          .constantFrom(...fieldPaths(resource))
          .chain((path) =>
            fc.tuple(
              fc.constant(resource),
              fc.constant(path),
              fc.constantFrom(...wrongTypesFor(pathValue(resource, path))),
            ),
          ),
      );
    fc.assert(
      fc.property(mutation, ([resource, path, wrong]) => {
        const { resources, problems } = parse(stringify(replaceAt(resource, path, wrong)));
        assert.equal(resources.length, 0);
        assert.ok(
          problems.some((p) => p.startsWith(`${FILE}: document 1: ${formatPath(path)}:`)),
          problems.join(" | "),
        );
      }),
      { numRuns: 60 },
    );
  });

  it("any value at any field path: problems naming the file and document, never an exception", () => {
    const pick = fc
      .constantFrom(...FULL_RESOURCES)
      .chain((resource) =>
        fc.tuple(
          fc.constant(resource),
          fc.constantFrom(...fieldPaths(resource)),
          fc.oneof(hostileText(), fc.jsonValue({ maxDepth: 3 })),
        ),
      );
    fc.assert(
      fc.property(pick, ([resource, path, value]) => void parse(stringify(replaceAt(resource, path, value)))),
      { numRuns: 100 },
    );
  });
});

function pathValue(value: unknown, path: readonly (string | number)[]): unknown {
  return path.reduce<unknown>((node, key) => (node as Record<string | number, unknown>)[key], value);
}

// Valid resources with hostile free text everywhere a schema allows any string.
const duration = fc.tuple(fc.nat(99), fc.constantFrom("ms", "s", "m", "h", "d")).map(([n, unit]) => `${n}${unit}`);
const condition = fc.oneof(
  fc.constantFrom("empty", "nonEmpty"),
  fc
    .tuple(fc.constantFrom("==", "!=", ">", ">=", "<", "<="), fc.double({ noNaN: true, noDefaultInfinity: true }))
    .map(([op, n]) => `${op} ${n}`),
);
const text = hostileText(6);
const labels = fc.dictionary(fc.oneof(text, fc.constant("app.kubernetes.io/name")), text, { maxKeys: 3 });

const desiredState = fc.record({
  apiVersion: fc.constant("steward.dev/v1alpha1"),
  kind: fc.constant("DesiredState"),
  metadata: fc.record({ name: dnsName, namespace: dnsName, labels, annotations: labels }, { requiredKeys: ["name"] }),
  spec: fc.record(
    {
      target: fc.oneof(
        fc.record({
          docker: fc.record({ project: text.filter((t) => t !== ""), selector: labels }, { requiredKeys: ["project"] }),
        }),
        fc.record({
          kubernetes: fc.record(
            { namespace: text.filter((t) => t !== ""), selector: labels },
            { requiredKeys: ["namespace"] },
          ),
        }),
      ),
      interval: duration,
      services: fc.uniqueArray(
        fc.record(
          {
            name: text.filter((t) => t !== ""),
            replicas: fc.nat(),
            running: fc.boolean(),
            healthy: fc.boolean(),
            restartBudget: fc.record({ max: fc.nat(), window: duration }),
          },
          { requiredKeys: ["name"] },
        ),
        { selector: (s) => s.name, maxLength: 3 },
      ),
      invariants: fc.uniqueArray(
        fc.record(
          {
            name: text.filter((t) => t !== ""),
            query: text.filter((t) => t !== ""),
            condition,
            for: duration,
            description: text,
            hint: text,
          },
          { requiredKeys: ["name", "query", "condition"] },
        ),
        { selector: (i) => i.name, maxLength: 3 },
      ),
    },
    { requiredKeys: ["target"] },
  ),
});

const policy = fc.record({
  apiVersion: fc.constant("steward.dev/v1alpha1"),
  kind: fc.constant("RemediationPolicy"),
  metadata: fc.record({ name: dnsName, labels }, { requiredKeys: ["name"] }),
  spec: fc.record({
    rules: fc.array(
      fc.record({
        decision: fc.constantFrom("allow", "ask", "deny"),
        command: text.filter((t) => t !== ""),
        description: text,
      }),
      { maxLength: 4 },
    ),
    dryRun: fc.boolean(),
    model: text,
  }),
});

/** Resources the schemas accept: a Kubernetes target's services are workloads. */
const validResource: fc.Arbitrary<Resource> = fc.oneof(
  desiredState
    .map((v) => DesiredState.safeParse(v))
    .filter((r) => r.success)
    .map((r) => r.data as Resource),
  policy
    .map((v) => RemediationPolicy.safeParse(v))
    .filter((r) => r.success)
    .map((r) => r.data as Resource),
  fc.constantFrom(...FULL_RESOURCES),
);

describe("valid resources round-trip (property)", () => {
  for (const [title, write] of [
    ["YAML", (r: Resource): string => stringify(r)],
    ["steward get -o yaml", (r: Resource): string => `${formatObjects([r], "yaml", true)}\n`],
    ["steward get -o json", (r: Resource): string => formatObjects([r], "json", true)],
  ] as const) {
    it(`written as ${title} and parsed again, a valid resource is the same`, () => {
      fc.assert(
        fc.property(validResource, (resource) => {
          const { resources, problems } = parse(write(resource));
          assert.deepEqual(problems, []);
          assert.deepEqual(
            resources.map((r) => r.resource),
            [resource],
          );
        }),
        { numRuns: 150 },
      );
    });
  }
});
