/**
 * CustomResourceDefinitions generated from the zod schemas, so that `kubectl apply` and the
 * API server validate what `steward apply` validates. `npm run gen:crds` writes them to
 * `crds/`; a test fails when the committed files differ from what this module generates.
 *
 * zod's JSON Schema (OpenAPI 3.0 flavour, input side: fields with defaults are optional and
 * carry `default`) is converted to a *structural* schema as Kubernetes requires: every node
 * has a `type`, no `$ref`, no `additionalProperties: false` (unknown fields are pruned by the
 * API server instead, and rejected by kubectl's strict field validation), and no keyword the
 * converter does not know — an unknown one throws rather than yield a CRD the API server
 * refuses. Refinements zod cannot put in JSON Schema are added back where a schema can say
 * them: durations and conditions as `pattern` (the same regexes the parsers use), unique
 * service and invariant names as list-maps, and the rest as CEL (`x-kubernetes-validations`):
 * exactly one target kind, a Docker target's project or selector, the bound on an
 * invariant's `for`, and a Kubernetes target's `Kind/name` service names — each with the
 * message zod gives and on the same field, so `kubectl apply` refuses what `steward apply` does.
 *
 * Every field carries its zod description (`.describe()`), so `kubectl explain` documents
 * it; the default and, for durations, the accepted forms are appended, since kubectl
 * explain prints neither.
 */
import { stringify } from "yaml";
import { z } from "zod";
import { isRecord } from "../json.js";
import { MATCHER_PREFIX_RE, MatcherText } from "./alert-matchers.js";
import { CONDITION_EXPR_RE, ConditionText } from "./condition-expr.js";
import { NotificationSink, SecretRef, SINK_TYPES } from "./notification-policy.js";
import {
  DesiredStateSpec,
  InvariantFor,
  MAX_INVARIANT_FOR,
  Target,
  WORKLOAD_KINDS,
  WORKLOAD_NAME_RE,
} from "./desired-state.js";
import { DURATION_RE, Duration, MAX_DURATION_LENGTH, parseDuration } from "./duration.js";
import { API_GROUP } from "./meta.js";
import { KINDS, type Kind, type KindInfo } from "./resources.js";

export const CRD_VERSION = "v1alpha1";
export const CRD_CATEGORIES: readonly string[] = ["steward"];

type SchemaType = "object" | "array" | "string" | "integer" | "number" | "boolean";

/** A node of a structural openAPIV3Schema: the subset of keywords Steward's CRDs use. */
export interface StructuralSchema {
  type?: SchemaType;
  description?: string;
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  exclusiveMinimum?: boolean;
  maximum?: number;
  exclusiveMaximum?: boolean;
  minItems?: number;
  maxItems?: number;
  default?: unknown;
  nullable?: boolean;
  required?: string[];
  properties?: Record<string, StructuralSchema>;
  items?: StructuralSchema;
  additionalProperties?: StructuralSchema;
  /** Only value validations (`required`) inside, as structural schemas require. */
  oneOf?: StructuralSchema[];
  anyOf?: StructuralSchema[];
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-validations"?: ValidationRule[];
}

/** A CEL rule the API server evaluates on the node it sits on (`self`). */
export interface ValidationRule {
  rule: string;
  /** The error when `rule` is false; messageExpression, when set, is shown instead. */
  message: string;
  messageExpression?: string;
  /** Where below this node the error is reported (`.services`); this node when absent. */
  fieldPath?: string;
}

export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface CustomResourceDefinition {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: string };
  spec: {
    group: string;
    names: {
      kind: Kind;
      listKind: string;
      plural: string;
      singular: string;
      shortNames?: string[];
      categories: string[];
    };
    scope: "Namespaced";
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: StructuralSchema };
      subresources?: { status: Record<string, never> };
      additionalPrinterColumns?: PrinterColumn[];
    }[];
  };
}

/**
 * Names kubectl already resolves to built-in resources, plus generic words other operators
 * use. kubectl expands short names before it matches resources, so declaring one of these
 * would either be shadowed by the built-in (`ds` is DaemonSets) or shadow someone else's
 * resource (`policies` is Kyverno's plural). Such entries of `KINDS` stay Steward-CLI-only.
 */
export const RESERVED_SHORT_NAMES: ReadonlySet<string> = new Set([
  "all",
  "cm",
  "cj",
  "crd",
  "crds",
  "cs",
  "csr",
  "deploy",
  "ds",
  "ep",
  "ev",
  "hpa",
  "ing",
  "limits",
  "netpol",
  "no",
  "ns",
  "pc",
  "pdb",
  "po",
  "policies",
  "policy",
  "psp",
  "pv",
  "pvc",
  "quota",
  "rc",
  "rs",
  "sa",
  "sc",
  "sts",
  "svc",
]);

const AGE: PrinterColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };

const PRINTER_COLUMNS: Record<Kind, PrinterColumn[]> = {
  DesiredState: [
    { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
    { name: "Drift", type: "string", jsonPath: '.status.conditions[?(@.type=="Drifted")].status' },
    { name: "Remediation", type: "string", jsonPath: ".status.activeRemediation" },
    AGE,
  ],
  AgentRemediation: [
    { name: "Target", type: "string", jsonPath: ".spec.desiredStateRef.name" },
    { name: "Phase", type: "string", jsonPath: ".status.phase" },
    { name: "Reason", type: "string", jsonPath: ".status.reason" },
    // A jsonPath cannot count a list; attempts are numbered 1, 2, … in order, so the last
    // one's number is the count `steward get` shows (blank rather than 0 before the first).
    {
      name: "Attempts",
      type: "integer",
      jsonPath: ".status.attempts[-1:].number",
      description: "agent attempts so far",
    },
    {
      name: "Tokens",
      type: "integer",
      jsonPath: ".status.usage.outputTokens",
      description: "output tokens the agent used",
    },
    AGE,
    { name: "Session", type: "string", jsonPath: ".status.sessionId", priority: 1 },
  ],
  RemediationPolicy: [{ name: "Dry-Run", type: "boolean", jsonPath: ".spec.dryRun" }, AGE],
  NotificationPolicy: [{ name: "Sinks", type: "string", jsonPath: ".spec.sinks[*].name" }, AGE],
};

/** Arrays keyed like maps (`x-kubernetes-list-type: map`), by path from the object's root. */
const LIST_MAPS: Record<Kind, Record<string, string[]>> = {
  // Keyed by name: the API server then refuses duplicate names, as DesiredStateSpec does.
  DesiredState: { "spec.services": ["name"], "spec.invariants": ["name"], "status.conditions": ["type"] },
  AgentRemediation: { "status.conditions": ["type"] },
  RemediationPolicy: {},
  NotificationPolicy: { "spec.sinks": ["name"] },
};

/** A CEL string literal: raw (no escapes are read), single-quoted. */
function celString(text: string): string {
  if (text.includes("'")) throw new Error(`celString: ${text} holds a quote`);
  return `r'${text}'`;
}

/**
 * The CEL rule "this duration is at most `max`". CEL's duration() reads Go durations, which
 * have no days, so whole days are counted apart, in milliseconds. Only a well-formed duration is
 * checked: a malformed one already fails the pattern, and evaluating it would add an error.
 */
export function durationAtMostRule(max: string): ValidationRule {
  const maxMs = parseDuration(max);
  if (maxMs === undefined) throw new Error(`durationAtMostRule: ${JSON.stringify(max)} is not a duration`);
  // int → string → duration() is estimated as unbounded by the API server's cost model; milliseconds are not.
  const days = "int(self.split('d')[0]) * 86400000";
  const rest = "(self.endsWith('d') ? 0 : duration(self.split('d')[1]).getMilliseconds())";
  const ms = `(self.contains('d') ? ${days} + ${rest} : duration(self).getMilliseconds())`;
  return {
    rule: `self == '' || !self.matches(${celString(DURATION_RE.source)}) || ${ms} <= ${maxMs}`,
    message: `expected at most ${max}`,
    messageExpression: `'expected at most ${max}, got "' + self + '"'`,
  };
}

/**
 * A Kubernetes target's services are `Kind/name`. Reported on spec.services without the
 * index zod names: a messageExpression that finds the offending item costs more than the
 * API server's CEL budget allows (measured: more than 100 times over, even at 256 items).
 */
function workloadNamesRule(): ValidationRule {
  const name = WORKLOAD_NAME_RE.source.replace(/^\^/, "").replace(/\$$/, "");
  const re = celString(`^(${WORKLOAD_KINDS.join("|")})/${name}$`);
  return {
    rule: `!has(self.target.kubernetes) || !has(self.services) || self.services.all(s, s.name.matches(${re}))`,
    message: "expected Deployment/<name> or StatefulSet/<name> for every service of a kubernetes target",
    fieldPath: ".services",
  };
}

const DURATION_SCHEMA: StructuralSchema = {
  pattern: DURATION_RE.source,
  minLength: 1,
  maxLength: MAX_DURATION_LENGTH,
};

/**
 * What each refined zod schema adds to its JSON Schema; zod leaves refinements out. Keyed
 * by the schema's definition, which `.describe()` and `.default()` share with the original.
 */
function refinements(): Map<unknown, StructuralSchema> {
  const docker = Target.shape.docker.unwrap();
  return new Map<unknown, StructuralSchema>([
    [Duration._zod.def, DURATION_SCHEMA],
    [
      InvariantFor._zod.def,
      { ...DURATION_SCHEMA, "x-kubernetes-validations": [durationAtMostRule(MAX_INVARIANT_FOR)] },
    ],
    [ConditionText._zod.def, { pattern: CONDITION_EXPR_RE.source }],
    [
      Target._zod.def,
      {
        "x-kubernetes-validations": [
          { rule: "has(self.docker) != has(self.kubernetes)", message: "expected exactly one of docker or kubernetes" },
        ],
      },
    ],
    [
      docker._zod.def,
      {
        "x-kubernetes-validations": [
          {
            rule: "has(self.project) || has(self.selector)",
            message: "expected a compose project or a label selector",
          },
        ],
      },
    ],
    [DesiredStateSpec._zod.def, { "x-kubernetes-validations": [workloadNamesRule()] }],
    [MatcherText._zod.def, { pattern: MATCHER_PREFIX_RE.source }],
    [SecretRef._zod.def, { oneOf: [{ required: ["file"] }, { required: ["secretKeyRef"] }] }],
    [NotificationSink._zod.def, { oneOf: SINK_TYPES.map((type) => ({ required: [type] })) }],
  ]);
}

type JsonObject = Record<string, unknown>;

interface Conversion {
  defs: Record<string, unknown>;
  listMaps: Record<string, string[]>;
  usedListMaps: Set<string>;
}

type Keyword = (value: unknown, out: StructuralSchema, at: { path: string; conv: Conversion }) => void;

function fail(path: string, message: string): never {
  throw new Error(`CRD schema at ${path || "<root>"}: ${message}`);
}

function asObject(value: unknown, path: string): JsonObject {
  return isRecord(value) ? value : fail(path, `expected a schema object, got ${JSON.stringify(value)}`);
}

const copy =
  <K extends keyof StructuralSchema>(key: K): Keyword =>
  (value, out) => {
    out[key] = value as StructuralSchema[K];
  };

// zod bounds every `.int()` by the safe-integer range; Kubernetes needs no such bounds.
const SAFE_BOUND = Number.MAX_SAFE_INTEGER;

/** The JSON Schema keywords zod emits that a structural schema can hold, and how. */
const KEYWORDS: Record<string, Keyword> = {
  $schema: () => undefined,
  type: (value, out, { path }) => {
    if (typeof value !== "string") fail(path, `a list of types (${JSON.stringify(value)}) is not structural`);
    out.type = value as SchemaType;
  },
  description: copy("description"),
  enum: copy("enum"),
  pattern: copy("pattern"),
  minLength: copy("minLength"),
  maxLength: copy("maxLength"),
  minItems: copy("minItems"),
  maxItems: copy("maxItems"),
  nullable: copy("nullable"),
  default: copy("default"),
  required: copy("required"),
  minimum: (value, out) => {
    if (value !== -SAFE_BOUND) out.minimum = value as number;
  },
  maximum: (value, out) => {
    if (value !== SAFE_BOUND) out.maximum = value as number;
  },
  exclusiveMinimum: (value, out, { path }) => {
    out.exclusiveMinimum =
      typeof value === "boolean" ? value : fail(path, "exclusiveMinimum must be a boolean in OpenAPI v3");
  },
  exclusiveMaximum: (value, out, { path }) => {
    out.exclusiveMaximum =
      typeof value === "boolean" ? value : fail(path, "exclusiveMaximum must be a boolean in OpenAPI v3");
  },
  properties: (value, out, { path, conv }) => {
    out.properties = Object.fromEntries(
      Object.entries(asObject(value, path)).map(([key, child]) => [key, convert(child, join(path, key), conv)]),
    );
  },
  items: (value, out, { path, conv }) => {
    out.items = convert(value, `${path}[]`, conv);
  },
  additionalProperties: (value, out, { path, conv }) => {
    // `false` (a strict object) is left out: Kubernetes prunes unknown fields instead.
    if (value === false) return;
    if (value === true) fail(path, "free-form objects (additionalProperties: true) are not allowed; use z.record");
    out.additionalProperties = convert(value, `${path}.*`, conv);
  },
  propertyNames: (value, _out, { path }) => {
    // Map keys are strings anyway; any other constraint on them cannot be expressed.
    if (!isRecord(value) || Object.keys(value).some((key) => key !== "type") || value.type !== "string") {
      fail(path, `propertyNames ${JSON.stringify(value)} cannot be expressed`);
    }
  },
  "x-kubernetes-validations": copy("x-kubernetes-validations"),
  oneOf: (value, out, { path }) => {
    out.oneOf = requiredOnly(value, path);
  },
  anyOf: (value, out, { path }) => {
    out.anyOf = requiredOnly(value, path);
  },
};

/** Structural schemas allow logical junctors only around value validations such as `required`. */
function requiredOnly(value: unknown, path: string): StructuralSchema[] {
  if (!Array.isArray(value)) fail(path, "oneOf/anyOf must be a list");
  return value.map((branch) => {
    const node = asObject(branch, path);
    if (Object.keys(node).some((key) => key !== "required")) {
      fail(
        path,
        `oneOf/anyOf (a zod union?) with ${JSON.stringify(node)} is not structural; only "required" branches are`,
      );
    }
    return { required: node.required as string[] };
  });
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function resolveRef(node: JsonObject, path: string, conv: Conversion): JsonObject {
  if (node.$ref === undefined) return node;
  const { $ref, ...siblings } = node;
  const name = typeof $ref === "string" && $ref.startsWith("#/$defs/") ? $ref.slice("#/$defs/".length) : undefined;
  const target = name === undefined ? undefined : conv.defs[name];
  if (target === undefined) fail(path, `cannot inline $ref ${JSON.stringify($ref)}`);
  return { ...resolveRef(asObject(target, path), path, conv), ...siblings };
}

// The order keys are written in, so the YAML reads the same after every generation.
const KEY_ORDER: (keyof StructuralSchema)[] = [
  "type",
  "description",
  "enum",
  "pattern",
  "minLength",
  "maxLength",
  "minimum",
  "exclusiveMinimum",
  "maximum",
  "exclusiveMaximum",
  "minItems",
  "maxItems",
  "nullable",
  "default",
  "required",
  "oneOf",
  "anyOf",
  "properties",
  "additionalProperties",
  "items",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-validations",
];

/**
 * The description kubectl explain shows: zod's, plus the default and, for a duration, the
 * forms it takes (kubectl explain prints neither). Undefined when zod has none: the CRD
 * test fails on every field without one.
 */
function documented(node: StructuralSchema): string | undefined {
  if (node.description === undefined) return undefined;
  const parts = [node.description];
  if (node.pattern === DURATION_RE.source) parts.push("A duration: 250ms, 30s, 5m, 1h30m, 2d.");
  if (node.default !== undefined && !/Default: /.test(node.description))
    parts.push(`Default: ${typeof node.default === "string" ? node.default || '""' : JSON.stringify(node.default)}.`);
  return parts.join(" ");
}

function ordered(node: StructuralSchema): StructuralSchema {
  const entries = Object.entries(node) as [keyof StructuralSchema, unknown][];
  entries.sort(([a], [b]) => KEY_ORDER.indexOf(a) - KEY_ORDER.indexOf(b));
  return Object.fromEntries(entries);
}

function convert(input: unknown, path: string, conv: Conversion): StructuralSchema {
  const node = resolveRef(asObject(input, path), path, conv);
  const out: StructuralSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "$defs") continue;
    const keyword = KEYWORDS[key];
    if (keyword === undefined) fail(path, `zod emitted "${key}", which a structural schema cannot express`);
    keyword(value, out, { path, conv });
  }
  out.description = documented(out);
  const listMapKeys = conv.listMaps[path];
  if (listMapKeys !== undefined) {
    if (out.type !== "array") fail(path, "a list-map must be an array");
    out["x-kubernetes-list-type"] = "map";
    out["x-kubernetes-list-map-keys"] = listMapKeys;
    conv.usedListMaps.add(path);
  }
  if (out.type === undefined) fail(path, "every node of a structural schema needs a type");
  return ordered(out);
}

/** The structural openAPIV3Schema of one kind, from its zod schema. */
export function openApiSchema(info: KindInfo): StructuralSchema {
  const extras = refinements();
  const json = z.toJSONSchema(info.schema, {
    target: "openapi-3.0",
    io: "input",
    unrepresentable: "throw",
    cycles: "throw",
    reused: "inline",
    override: ({ zodSchema, jsonSchema }) => {
      Object.assign(jsonSchema, extras.get(zodSchema._zod.def));
    },
  }) as JsonObject;
  const conv: Conversion = {
    defs: isRecord(json.$defs) ? json.$defs : {},
    listMaps: LIST_MAPS[info.kind],
    usedListMaps: new Set(),
  };
  const schema = convert(json, "", conv);
  const unused = Object.keys(conv.listMaps).filter((path) => !conv.usedListMaps.has(path));
  if (unused.length > 0) fail(unused.join(", "), "list-map paths not found in the schema");
  // The API server sets and checks apiVersion and kind itself and owns metadata's schema: a
  // CRD may only say `type: object` there (name rules are Kubernetes' own DNS-1123 check).
  const properties = {
    ...schema.properties,
    apiVersion: { type: "string", description: `${API_GROUP}/${CRD_VERSION}.` },
    kind: { type: "string", description: `${info.kind}.` },
    // The API server documents metadata itself (ObjectMeta) and refuses a description here.
    metadata: { type: "object" },
  } satisfies Record<string, StructuralSchema>;
  const required = (schema.required ?? []).filter((key) => !["apiVersion", "kind", "metadata"].includes(key));
  return ordered({ type: "object", description: schema.description, required, properties });
}

function crdFor(info: KindInfo): CustomResourceDefinition {
  const shortNames = info.shortNames.filter((name) => !RESERVED_SHORT_NAMES.has(name));
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${info.plural}.${API_GROUP}` },
    spec: {
      group: API_GROUP,
      names: {
        kind: info.kind,
        listKind: `${info.kind}List`,
        plural: info.plural,
        singular: info.singular,
        ...(shortNames.length > 0 ? { shortNames } : {}),
        categories: [...CRD_CATEGORIES],
      },
      scope: "Namespaced",
      versions: [
        {
          name: CRD_VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: openApiSchema(info) },
          ...(info.hasStatus ? { subresources: { status: {} } } : {}),
          additionalPrinterColumns: PRINTER_COLUMNS[info.kind],
        },
      ],
    },
  };
}

/** One CustomResourceDefinition per kind in `KINDS`, in `KINDS` order. */
export function generateCrds(): CustomResourceDefinition[] {
  return Object.values(KINDS).map(crdFor);
}

export const CRD_HEADER = "# generated by npm run gen:crds; do not edit\n";

/** The kustomization that makes `crds/` a base: `manifests/` includes it as `../crds`. */
export const CRD_KUSTOMIZATION = "kustomization.yaml";

/**
 * The files of `crds/`: `<plural>.steward.dev.yaml` with its text, and a kustomization
 * listing them. Kustomize refuses a file outside the including kustomization's directory,
 * so `manifests/` can only take the CRDs as a directory that has its own kustomization.
 */
export function crdFiles(): { name: string; text: string }[] {
  const crds = generateCrds().map((crd) => ({
    name: `${crd.metadata.name}.yaml`,
    text: CRD_HEADER + stringify(crd, { version: "1.1", lineWidth: 0 }),
  }));
  const kustomization = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    resources: crds.map((file) => file.name),
  };
  return [...crds, { name: CRD_KUSTOMIZATION, text: CRD_HEADER + stringify(kustomization) }];
}
