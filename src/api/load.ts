import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments, type Document } from "yaml";
import type { z } from "zod";
import { errorMessage, ValidationError } from "../errors.js";
import { escapeInvisible } from "../text/escape.js";
import { API_VERSION } from "./meta.js";
import { KINDS, type Kind, type Resource } from "./resources.js";

export interface LoadedResource {
  resource: Resource;
  source: string;
}

const MANIFEST_EXTENSIONS = [".yaml", ".yml", ".json"];

/**
 * Reads every resource in the given files and directories (a directory's *.yaml, *.yml and
 * *.json files, not recursive, like `kubectl apply -f DIR`). All documents are validated
 * before anything is returned: one bad document fails the whole load, so a caller that
 * stores the result never stores half of it.
 */
export async function loadManifests(paths: readonly string[]): Promise<LoadedResource[]> {
  const files = (await Promise.all(paths.map(expandPath))).flat();
  const loaded: LoadedResource[] = [];
  const problems: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      problems.push(`${file}: cannot read: ${errorMessage(err)}`);
      continue;
    }
    const result = parseManifestText(text, file);
    loaded.push(...result.resources);
    problems.push(...result.problems);
  }
  if (problems.length > 0) throw new ValidationError(problems.map(shown));
  if (loaded.length === 0) throw new ValidationError([`${paths.join(", ")}: no resources found`]);
  return loaded;
}

async function expandPath(path: string): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new ValidationError([`${path}: no such file or directory`]);
  }
  if (!info.isDirectory()) return [path];
  const names = (await readdir(path)).filter((n) => MANIFEST_EXTENSIONS.some((e) => n.endsWith(e)));
  return names.sort().map((n) => join(path, n));
}

/**
 * How many times the nodes under anchors may be repeated through aliases in one document
 * (the `yaml` package's `maxAliasCount`: each alias counts the aliases inside the node it
 * names, so nested "billion laughs" expansion trips it early). Manifests seldom use
 * aliases at all; this bounds what a small hostile file can expand into.
 */
export const MAX_YAML_ALIAS_COUNT = 100;

/**
 * Parses a YAML stream (several `---` documents) into validated resources. Never throws:
 * every problem, YAML or schema, is returned naming the file and the document.
 */
export function parseManifestText(text: string, file: string): { resources: LoadedResource[]; problems: string[] } {
  const resources: LoadedResource[] = [];
  const problems: string[] = [];
  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(text, { logLevel: "error" }) as Document.Parsed[];
  } catch (err) {
    return { resources, problems: [`${file}: invalid YAML: ${firstLine(errorMessage(err))}`] };
  }
  docs.forEach((doc, index) => {
    const where = `${file}: document ${index + 1}`;
    const value = documentValue(doc);
    if (!value.ok) {
      problems.push(...value.problems.map((p) => `${where}: invalid YAML: ${p}`));
      return;
    }
    if (value.value === null || value.value === undefined) return;
    const parsed = validateResource(value.value);
    if (parsed.ok) resources.push({ resource: parsed.resource, source: where });
    else problems.push(...parsed.problems.map((p) => `${where}: ${p}`));
  });
  return { resources, problems: problems.map(shown) };
}

/** Longest problem line shown; a key or value that is megabytes long is cut. */
const MAX_PROBLEM_CHARS = 1_000;

/**
 * A problem as it is shown: a file name, a YAML message or a key may hold control
 * characters (escaped) or be huge (cut, on a character boundary). Idempotent.
 */
function shown(problem: string): string {
  const chars = Array.from(escapeInvisible(problem));
  return chars.length > MAX_PROBLEM_CHARS
    ? `${chars.slice(0, MAX_PROBLEM_CHARS - CUT.length).join("")}${CUT}`
    : chars.join("");
}

const CUT = "… (cut)";

/**
 * A document's value. toJS throws (ReferenceError) for an alias whose anchor is missing
 * and for alias expansion past MAX_YAML_ALIAS_COUNT, and may overflow the stack on deep
 * nesting: each is a problem with the document, never an exception for the caller.
 */
function documentValue(doc: Document.Parsed): { ok: true; value: unknown } | { ok: false; problems: string[] } {
  if (doc.errors.length > 0) return { ok: false, problems: doc.errors.map((e) => firstLine(e.message)) };
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT }) as unknown };
  } catch (err) {
    const message = firstLine(errorMessage(err));
    const hint = /alias count/i.test(message)
      ? ` (more than ${MAX_YAML_ALIAS_COUNT} alias expansions; write the values out)`
      : "";
    return { ok: false, problems: [`${message}${hint}`] };
  }
}

function firstLine(message: string): string {
  return message.split("\n")[0] ?? "";
}

export type ValidationResult = { ok: true; resource: Resource } | { ok: false; problems: string[] };

/** Validates one object against the schema of its kind; problems name the field path. */
export function validateResource(value: unknown): ValidationResult {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, problems: [`expected a mapping with apiVersion and kind, got ${describe(value)}`] };
  }
  const { apiVersion, kind } = value as { apiVersion?: unknown; kind?: unknown };
  if (apiVersion !== API_VERSION) {
    return { ok: false, problems: [shown(`apiVersion: expected "${API_VERSION}", got ${describe(apiVersion)}`)] };
  }
  const info = typeof kind === "string" && Object.hasOwn(KINDS, kind) ? KINDS[kind as Kind] : undefined;
  if (!info) {
    const known = Object.keys(KINDS).join(", ");
    return { ok: false, problems: [shown(`kind: expected one of ${known}, got ${describe(kind)}`)] };
  }
  const result = info.schema.safeParse(value);
  if (result.success) return { ok: true, resource: result.data };
  return { ok: false, problems: formatIssues(result.error.issues) };
}

/** One line per issue, `path: message`, shown as `shown` does. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => shown(`${formatPath(issue.path)}: ${issue.message}`));
}

/**
 * `["spec", "invariants", 0, "for"]` → `spec.invariants[0].for`. A key that is not a plain
 * identifier (a label key with dots or slashes, anything with spaces or control
 * characters) is shown quoted and escaped, `metadata.labels["app.kubernetes.io/name"]`, so
 * the path is unambiguous and a hostile key cannot write raw escapes to a terminal.
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (typeof part === "string" && PLAIN_KEY.test(part)) out += out === "" ? part : `.${part}`;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out === "" ? "(root)" : out;
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return typeof value === "object" ? "a mapping" : `a ${typeof value}`;
}
