import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import type { z } from "zod";
import { errorMessage, ValidationError } from "../errors.js";
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
  if (problems.length > 0) throw new ValidationError(problems);
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

/** Parses a YAML stream (several `---` documents) into validated resources. */
export function parseManifestText(
  text: string,
  file: string,
): { resources: LoadedResource[]; problems: string[] } {
  const resources: LoadedResource[] = [];
  const problems: string[] = [];
  parseAllDocuments(text).forEach((doc, index) => {
    const where = `${file}: document ${index + 1}`;
    if (doc.errors.length > 0) {
      for (const e of doc.errors) problems.push(`${where}: invalid YAML: ${e.message.split("\n")[0]}`);
      return;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    const parsed = validateResource(value);
    if (parsed.ok) resources.push({ resource: parsed.resource, source: where });
    else problems.push(...parsed.problems.map((p) => `${where}: ${p}`));
  });
  return { resources, problems };
}

export type ValidationResult =
  | { ok: true; resource: Resource }
  | { ok: false; problems: string[] };

/** Validates one object against the schema of its kind; problems name the field path. */
export function validateResource(value: unknown): ValidationResult {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, problems: [`expected a mapping with apiVersion and kind, got ${describe(value)}`] };
  }
  const { apiVersion, kind } = value as { apiVersion?: unknown; kind?: unknown };
  if (apiVersion !== API_VERSION) {
    return { ok: false, problems: [`apiVersion: expected "${API_VERSION}", got ${describe(apiVersion)}`] };
  }
  const info = typeof kind === "string" ? KINDS[kind as Kind] : undefined;
  if (!info) {
    const known = Object.keys(KINDS).join(", ");
    return { ok: false, problems: [`kind: expected one of ${known}, got ${describe(kind)}`] };
  }
  const result = info.schema.safeParse(value);
  if (result.success) return { ok: true, resource: result.data };
  return { ok: false, problems: formatIssues(result.error.issues) };
}

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
}

/** `["spec", "invariants", 0, "for"]` → `spec.invariants[0].for`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out === "" ? "(root)" : out;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return typeof value === "object" ? "a mapping" : `a ${typeof value}`;
}
