import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments } from "yaml";
import { CONDITION_EXPR_RE, parseConditionExpr } from "../../src/api/condition-expr.js";
import {
  crdFiles,
  generateCrds,
  RESERVED_SHORT_NAMES,
  type CustomResourceDefinition,
  type StructuralSchema,
} from "../../src/api/crds.js";
import { DURATION_RE, parseDuration } from "../../src/api/duration.js";
import { KINDS, type Kind } from "../../src/api/resources.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CRDS_DIR = join(ROOT, "crds");

function crdOf(kind: Kind): CustomResourceDefinition {
  const crd = generateCrds().find((c) => c.spec.names.kind === kind);
  assert.ok(crd, `no CRD for ${kind}`);
  return crd;
}

function schemaOf(kind: Kind): StructuralSchema {
  const version = crdOf(kind).spec.versions[0];
  assert.ok(version);
  return version.schema.openAPIV3Schema;
}

/** Every schema node with its path, root first. */
function* nodes(schema: StructuralSchema, path = ""): Generator<[string, StructuralSchema]> {
  yield [path, schema];
  for (const [key, child] of Object.entries(schema.properties ?? {})) yield* nodes(child, `${path}.${key}`);
  if (schema.items) yield* nodes(schema.items, `${path}[]`);
  if (schema.additionalProperties) yield* nodes(schema.additionalProperties, `${path}.*`);
}

// A checker for the JSON Schema subset the CRDs use, with the API server's semantics for
// what it checks: types, required, enum, pattern, lengths, bounds, oneOf/anyOf of
// `required`, list-map key uniqueness, and unknown fields (which kubectl's strict field
// validation rejects). CEL rules (x-kubernetes-validations) it does not evaluate: the real
// API server does, in test/e2e/crd-validation.test.ts.
function typeMatches(type: StructuralSchema["type"], value: unknown): boolean {
  switch (type) {
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    case "array":
      return Array.isArray(value);
    case "integer":
      return Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "string":
      return typeof value === "string";
    case "boolean":
      return typeof value === "boolean";
    case undefined:
      return true;
  }
}

function checkScalar(schema: StructuralSchema, value: unknown, path: string, errors: string[]): void {
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${path}: ${JSON.stringify(value)} not in enum`);
  if (typeof value === "string") {
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value))
      errors.push(`${path}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
    if (schema.minLength !== undefined && value.length < schema.minLength)
      errors.push(`${path}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength)
      errors.push(`${path}: longer than ${schema.maxLength}`);
  }
  if (typeof value === "number" && schema.minimum !== undefined) {
    if (value < schema.minimum || (schema.exclusiveMinimum === true && value === schema.minimum))
      errors.push(`${path}: ${value} below the minimum`);
  }
}

function checkObject(schema: StructuralSchema, value: Record<string, unknown>, path: string, errors: string[]): void {
  for (const key of schema.required ?? []) if (!(key in value)) errors.push(`${path}: missing required field ${key}`);
  const satisfied = (branch: StructuralSchema): boolean => (branch.required ?? []).every((key) => key in value);
  if (schema.oneOf && schema.oneOf.filter(satisfied).length !== 1)
    errors.push(`${path}: must match exactly one of ${JSON.stringify(schema.oneOf)}`);
  if (schema.anyOf && !schema.anyOf.some(satisfied))
    errors.push(`${path}: must match one of ${JSON.stringify(schema.anyOf)}`);
  for (const [key, child] of Object.entries(value)) {
    const childSchema = schema.properties?.[key] ?? schema.additionalProperties;
    if (childSchema) check(childSchema, child, `${path}.${key}`, errors);
    else if (path !== ".metadata") errors.push(`${path}: unknown field ${key}`);
  }
}

function checkArray(schema: StructuralSchema, value: unknown[], path: string, errors: string[]): void {
  value.forEach((item, index) => schema.items && check(schema.items, item, `${path}[${index}]`, errors));
  const keys = schema["x-kubernetes-list-map-keys"];
  if (keys) {
    const seen = new Set<string>();
    for (const item of value as Record<string, unknown>[]) {
      const key = JSON.stringify(keys.map((k) => item[k]));
      if (seen.has(key)) errors.push(`${path}: duplicate entries with key ${key}`);
      seen.add(key);
    }
  }
}

function check(schema: StructuralSchema, value: unknown, path: string, errors: string[]): string[] {
  if (!typeMatches(schema.type, value)) {
    errors.push(`${path}: expected ${schema.type}, got ${JSON.stringify(value)}`);
    return errors;
  }
  checkScalar(schema, value, path, errors);
  if (schema.type === "object") checkObject(schema, value as Record<string, unknown>, path, errors);
  if (schema.type === "array") checkArray(schema, value as unknown[], path, errors);
  return errors;
}

function validate(kind: Kind, value: unknown): string[] {
  return check(schemaOf(kind), value, "", []);
}

describe("committed crds/", () => {
  it("match generateCrds() (run npm run gen:crds)", async () => {
    const expected = crdFiles();
    for (const file of expected) {
      const committed = await readFile(join(CRDS_DIR, file.name), "utf8").catch(() => "<missing>");
      assert.equal(committed, file.text, `crds/${file.name} differs from generateCrds(): run npm run gen:crds`);
    }
    const onDisk = (await readdir(CRDS_DIR)).filter((name) => name.endsWith(".yaml")).sort();
    assert.deepEqual(
      onDisk,
      expected.map((f) => f.name).sort(),
      "crds/ holds files generateCrds() does not produce: run npm run gen:crds",
    );
  });

  it("the Helm chart's crds/ holds the same CRDs, without the kustomization (run npm run gen:crds)", async () => {
    const chartDir = join(ROOT, "charts/steward/crds");
    const expected = crdFiles().filter((f) => f.name !== "kustomization.yaml");
    assert.deepEqual((await readdir(chartDir)).sort(), expected.map((f) => f.name).sort());
    for (const file of expected)
      assert.equal(await readFile(join(chartDir, file.name), "utf8"), file.text, `charts/steward/crds/${file.name}`);
  });

  it("read back (as YAML 1.1, the way kubectl reads) to exactly the generated objects", async () => {
    for (const crd of generateCrds()) {
      const text = await readFile(join(CRDS_DIR, `${crd.metadata.name}.yaml`), "utf8");
      assert.ok(text.startsWith("# generated by npm run gen:crds; do not edit\n"));
      assert.deepEqual(parse(text, { version: "1.1" }), JSON.parse(JSON.stringify(crd)));
    }
  });
});

describe("generated CRDs", () => {
  it("one per kind: steward.dev/v1alpha1, served and stored, namespaced, category steward", () => {
    const crds = generateCrds();
    assert.deepEqual(
      crds.map((c) => c.metadata.name),
      [
        "desiredstates.steward.dev",
        "remediations.steward.dev",
        "remediationpolicies.steward.dev",
        "notificationpolicies.steward.dev",
      ],
    );
    for (const crd of crds) {
      const info = KINDS[crd.spec.names.kind];
      assert.equal(crd.apiVersion, "apiextensions.k8s.io/v1");
      assert.equal(crd.spec.group, "steward.dev");
      assert.equal(crd.spec.scope, "Namespaced");
      assert.equal(crd.spec.names.plural, info.plural);
      assert.equal(crd.spec.names.singular, info.singular);
      assert.equal(crd.spec.names.listKind, `${info.kind}List`);
      assert.deepEqual(crd.spec.names.categories, ["steward"]);
      assert.equal(crd.spec.versions.length, 1);
      const [version] = crd.spec.versions;
      assert.ok(version);
      assert.deepEqual([version.name, version.served, version.storage], ["v1alpha1", true, true]);
      assert.deepEqual(version.subresources, info.hasStatus ? { status: {} } : undefined);
    }
  });

  it("short names: those of KINDS that no built-in (ds = DaemonSets) or common resource claims", () => {
    assert.equal(crdOf("DesiredState").spec.names.shortNames, undefined);
    assert.deepEqual(crdOf("AgentRemediation").spec.names.shortNames, ["rem", "agentremediation", "agentremediations"]);
    assert.deepEqual(crdOf("RemediationPolicy").spec.names.shortNames, ["rp"]);
    for (const name of ["ds", "policy", "policies", "deploy", "po", "svc"]) assert.ok(RESERVED_SHORT_NAMES.has(name));
  });

  it("printer columns", () => {
    const columns = (kind: Kind): string[] =>
      (crdOf(kind).spec.versions[0]?.additionalPrinterColumns ?? []).map((c) => `${c.name} ${c.type} ${c.jsonPath}`);
    assert.deepEqual(columns("AgentRemediation"), [
      "Target string .spec.desiredStateRef.name",
      "Phase string .status.phase",
      "Reason string .status.reason",
      "Attempts integer .status.attempts[-1:].number",
      "Tokens integer .status.usage.outputTokens",
      "Age date .metadata.creationTimestamp",
      "Session string .status.sessionId",
    ]);
    const session = crdOf("AgentRemediation").spec.versions[0]?.additionalPrinterColumns?.find(
      (c) => c.name === "Session",
    );
    assert.equal(session?.priority, 1, "Session shows with -o wide only");
    assert.deepEqual(columns("DesiredState"), [
      'Ready string .status.conditions[?(@.type=="Ready")].status',
      'Drift string .status.conditions[?(@.type=="Drifted")].status',
      "Remediation string .status.activeRemediation",
      "Age date .metadata.creationTimestamp",
    ]);
    assert.deepEqual(columns("RemediationPolicy"), [
      "Dry-Run boolean .spec.dryRun",
      "Age date .metadata.creationTimestamp",
    ]);
    assert.deepEqual(columns("NotificationPolicy"), [
      "Sinks string .spec.sinks[*].name",
      "Age date .metadata.creationTimestamp",
    ]);
  });

  it("every printer column's jsonPath leads to a field of the schema", () => {
    for (const crd of generateCrds()) {
      const version = crd.spec.versions[0];
      assert.ok(version);
      const paths = new Set([...nodes(version.schema.openAPIV3Schema)].map(([path]) => path));
      for (const column of version.additionalPrinterColumns ?? []) {
        if (column.jsonPath.startsWith(".metadata.")) continue;
        const path = column.jsonPath.replace(/\[\?\(@\.type=="\w+"\)\]|\[-1:\]|\[\*\]/g, "[]");
        assert.ok(paths.has(path), `${crd.metadata.name}: ${column.name} → ${column.jsonPath} is not in the schema`);
      }
    }
  });
});

describe("structural schemas", () => {
  for (const kind of Object.keys(KINDS) as Kind[]) {
    it(`${kind}: every node typed, no $ref, no additionalProperties: false, junctors only around required`, () => {
      const schema = schemaOf(kind);
      const text = JSON.stringify(schema);
      assert.ok(
        !text.includes('"$ref"') && !text.includes('"$defs"') && !text.includes('"$schema"'),
        "no $ref/$defs/$schema",
      );
      assert.ok(!text.includes("x-kubernetes-preserve-unknown-fields"), "no preserve-unknown-fields anywhere");
      for (const [path, node] of nodes(schema)) {
        assert.ok(node.type, `${path || "<root>"} has no type`);
        assert.notEqual(node.additionalProperties, false, `${path}: additionalProperties: false`);
        assert.ok(
          !(node.properties && node.additionalProperties),
          `${path}: properties and additionalProperties together`,
        );
        for (const junctor of [...(node.oneOf ?? []), ...(node.anyOf ?? [])]) {
          assert.deepEqual(Object.keys(junctor), ["required"], `${path}: a oneOf/anyOf branch may only hold required`);
          for (const key of junctor.required ?? [])
            assert.ok(node.properties?.[key], `${path}: ${key} in a junctor but not a property`);
        }
        for (const key of node.required ?? [])
          assert.ok(node.properties?.[key], `${path}: required ${key} is not a property`);
        if (node.maximum !== undefined)
          assert.notEqual(node.maximum, Number.MAX_SAFE_INTEGER, `${path}: zod's safe-integer bound`);
        if (node.minimum !== undefined)
          assert.notEqual(node.minimum, -Number.MAX_SAFE_INTEGER, `${path}: zod's safe-integer bound`);
      }
    });

    it(`${kind}: root holds apiVersion, kind, metadata (type: object only), spec, status`, () => {
      const schema = schemaOf(kind);
      assert.deepEqual(schema.properties?.apiVersion, { type: "string", description: "steward.dev/v1alpha1." });
      assert.deepEqual(schema.properties?.kind, { type: "string", description: `${kind}.` });
      assert.deepEqual(schema.properties?.metadata, { type: "object" });
      assert.deepEqual(schema.required, ["spec"]);
      assert.equal(schema.properties?.status !== undefined, KINDS[kind].hasStatus);
    });

    it(`${kind}: defaults validate against their own schema; list-map keys are required scalars`, () => {
      for (const [path, node] of nodes(schemaOf(kind))) {
        if (node.default !== undefined)
          assert.deepEqual(check(node, node.default, path, []), [], `${path}: default does not validate`);
        const keys = node["x-kubernetes-list-map-keys"];
        if (keys) {
          assert.equal(node["x-kubernetes-list-type"], "map");
          for (const key of keys) {
            assert.ok(node.items?.required?.includes(key), `${path}: list-map key ${key} not required`);
            assert.equal(node.items?.properties?.[key]?.type, "string");
          }
        }
      }
    });

    it(`${kind}: every field has a description for kubectl explain, naming its default`, () => {
      const schema = schemaOf(kind);
      assert.ok(schema.description, "the kind itself");
      const missing: string[] = [];
      for (const [path, node] of nodes(schema)) {
        // A list's items and a map's values are described by the list or map; the API server documents metadata.
        if (path === "" || path === ".metadata" || path.endsWith("[]") || path.endsWith(".*")) continue;
        if (!node.description) missing.push(path);
        else if (node.default !== undefined) assert.match(node.description, /Default: /, `${path}: default not named`);
      }
      assert.deepEqual(missing, [], "fields without a description: add .describe() in src/api");
    });

    it(`${kind}: patterns stay within what Go's RE2 accepts (no lookaround, no backreferences)`, () => {
      for (const [path, node] of nodes(schemaOf(kind))) {
        if (node.pattern === undefined) continue;
        assert.ok(!/\(\?[=!<]|\\[1-9]|\\[uxp]/.test(node.pattern), `${path}: ${node.pattern}`);
      }
    });
  }

  it("conditions are list-maps keyed by type, services and invariants by name", () => {
    const listMap = (schema: StructuralSchema | undefined): [unknown, unknown] => [
      schema?.["x-kubernetes-list-type"],
      schema?.["x-kubernetes-list-map-keys"],
    ];
    const ds = schemaOf("DesiredState").properties;
    assert.deepEqual(listMap(ds?.status?.properties?.conditions), ["map", ["type"]]);
    assert.deepEqual(listMap(ds?.spec?.properties?.services), ["map", ["name"]]);
    assert.deepEqual(listMap(ds?.spec?.properties?.invariants), ["map", ["name"]]);
    assert.deepEqual(listMap(schemaOf("AgentRemediation").properties?.status?.properties?.conditions), [
      "map",
      ["type"],
    ]);
  });

  it("durations and conditions carry the parsers' own regexes as patterns", () => {
    const invariant = schemaOf("DesiredState").properties?.spec?.properties?.invariants?.items?.properties;
    assert.equal(invariant?.condition?.pattern, CONDITION_EXPR_RE.source);
    assert.deepEqual(
      [invariant?.for?.pattern, invariant?.for?.minLength, invariant?.for?.maxLength],
      [DURATION_RE.source, 1, 32],
    );
    const budgets = schemaOf("RemediationPolicy").properties?.spec?.properties?.budgets?.properties;
    assert.equal(budgets?.maxDuration?.pattern, DURATION_RE.source);
    const durationSchema = invariant?.for;
    const conditionSchema = invariant?.condition;
    assert.ok(durationSchema && conditionSchema);
    for (const text of [
      "30s",
      "1h30m",
      "250ms",
      "5m5ms",
      "",
      "30",
      "5 m",
      "30m1h",
      "-5s",
      "1m1m",
      "9".repeat(32) + "s",
    ]) {
      assert.equal(
        check(durationSchema, text, "for", []).length === 0,
        parseDuration(text) !== undefined,
        JSON.stringify(text),
      );
    }
    for (const text of ["== 3", " >= -1.5e3 ", "empty", " nonEmpty ", "=3", "nonempty", "> .5", "<", "!= 1e", ""]) {
      assert.equal(
        check(conditionSchema, text, "condition", []).length === 0,
        parseConditionExpr(text) !== undefined,
        JSON.stringify(text),
      );
    }
  });
});

async function exampleDocuments(): Promise<{ file: string; doc: Record<string, unknown> }[]> {
  const dir = join(ROOT, "examples");
  const files = (await readdir(dir, { recursive: true })).filter((f) => /\.ya?ml$/.test(f)).sort();
  const out: { file: string; doc: Record<string, unknown> }[] = [];
  for (const file of files) {
    // YAML 1.1, as kubectl reads it (an unquoted `off` would be a boolean there).
    for (const doc of parseAllDocuments(await readFile(join(dir, file), "utf8"), { version: "1.1" })) {
      const value: unknown = doc.toJS();
      if (
        typeof value === "object" &&
        value !== null &&
        (value as { apiVersion?: unknown }).apiVersion === "steward.dev/v1alpha1"
      ) {
        out.push({ file, doc: value as Record<string, unknown> });
      }
    }
  }
  return out;
}

describe("examples against the generated schemas", () => {
  it("every Steward resource in examples/ validates, and zod agrees", async () => {
    const docs = await exampleDocuments();
    assert.ok(docs.length >= 2, "the examples hold Steward resources");
    for (const { file, doc } of docs) {
      const kind = doc.kind as Kind;
      assert.ok(KINDS[kind], `${file}: unknown kind ${String(doc.kind)}`);
      assert.deepEqual(validate(kind, doc), [], `${file} against the ${kind} CRD`);
      assert.ok(KINDS[kind].schema.safeParse(doc).success, `${file}: zod`);
    }
  });

  const base = (): Record<string, unknown> => ({
    apiVersion: "steward.dev/v1alpha1",
    kind: "DesiredState",
    metadata: { name: "x" },
    spec: {
      target: { docker: { project: "x" } },
      services: [{ name: "a", restartBudget: { max: 3, window: "10m" } }],
      invariants: [{ name: "q", query: "up", condition: "== 3", for: "30s" }],
      remediation: { agent: { mode: "approve", maxAttempts: 2 }, cooldown: "5m" },
    },
  });
  type Spec = {
    target: Record<string, unknown>;
    services: Record<string, unknown>[];
    invariants: Record<string, unknown>[];
    remediation: { agent: Record<string, unknown> };
  } & Record<string, unknown>;
  const invalid: [string, (spec: Spec) => void][] = [
    ["a malformed duration", (s) => void (s.invariants[0]!.for = "30 seconds")],
    ["an empty duration", (s) => void (s.services[0]!.restartBudget = { max: 3, window: "" })],
    ["a malformed condition", (s) => void (s.invariants[0]!.condition = "= 3")],
    ["duplicate service names", (s) => void s.services.push({ name: "a" })],
    ["duplicate invariant names", (s) => void s.invariants.push({ name: "q", query: "up", condition: "empty" })],
    ["an unknown agent mode", (s) => void (s.remediation.agent.mode = "sometimes")],
    ["negative replicas", (s) => void (s.services[0]!.replicas = -1)],
    ["a fractional replica count", (s) => void (s.services[0]!.replicas = 1.5)],
    ["zero maxAttempts", (s) => void (s.remediation.agent.maxAttempts = 0)],
    ["an unknown field", (s) => void (s.servces = [])],
    ["an empty service name", (s) => void (s.services[0]!.name = "")],
  ];
  it("the base of the invalid cases is valid", () => {
    assert.deepEqual(validate("DesiredState", base()), []);
    assert.ok(KINDS.DesiredState.schema.safeParse(base()).success);
  });
  for (const [what, mutate] of invalid) {
    it(`${what} is rejected by the CRD schema as by zod`, () => {
      const doc = base();
      mutate(doc.spec as Spec);
      assert.notDeepEqual(validate("DesiredState", doc), [], "CRD schema accepted it");
      assert.equal(KINDS.DesiredState.schema.safeParse(doc).success, false, "zod accepted it");
    });
  }
});
