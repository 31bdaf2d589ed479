/**
 * The layers of src/, lowest first, and the check that imports only point down (or stay
 * within a layer). Run by `npm run lint`; exits 1 and names every upward import.
 *
 * A module that two layers need belongs to the lower one: move it down rather than
 * importing up. Type-only imports count too: they couple the layers just the same.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

/** Each entry: the folders (or top-level files) of one layer. A layer may import its own and every lower one. */
export const LAYERS: readonly (readonly string[])[] = [
  ["errors.ts", "json.ts", "text"], // the error family; the JSON record guard; escaping, stripping, redaction, truncation
  ["api"], // resource schemas, loading, CRDs, the built-in policy, approval annotations
  ["telemetry"], // logging and the metrics registry
  ["resilience"], // backoff, limiter, deadlines, circuit breaker, token bucket
  ["kube"], // the Kubernetes client pieces: informer, watch, lease, leader election, fence
  ["store"], // where resources live: the file store, the kubernetes store, the cache
  ["observe"], // what is: Docker, Kubernetes workloads, Prometheus
  ["act"], // what Steward changes: Docker and Kubernetes actuators
  ["reconcile"], // drift, plans, the controllers, the remediation lifecycle
  ["notify"], // the notification outbox's delivery: sinks, secrets, the notifier
  ["agent"], // the Claude session, tools, policy engine, audit trail
  ["server"], // HTTP endpoints: operability
  ["manager"], // the running program: configuration, targets, leadership, start and stop
  ["cli", "console"], // the commands people run
];

/** The layer index of a path relative to src/ (`agent/runner.ts`), or undefined outside every layer. */
export function layerOf(pathInSrc: string): number | undefined {
  const top = pathInSrc.split("/")[0] ?? "";
  const index = LAYERS.findIndex((layer) => layer.includes(top));
  return index < 0 ? undefined : index;
}

export interface Violation {
  from: string;
  to: string;
  problem: string;
}

/** Every import of `files` (paths relative to src/, with their text) that runs up a layer or leaves the layer map. */
export function checkImports(files: ReadonlyMap<string, string>): Violation[] {
  const violations: Violation[] = [];
  for (const [from, text] of files) {
    const fromLayer = layerOf(from);
    if (fromLayer === undefined) {
      violations.push({ from, to: "", problem: "is in no layer: add its folder to LAYERS in scripts/check-layers.ts" });
      continue;
    }
    for (const imported of ts.preProcessFile(text, true, true).importedFiles) {
      if (!imported.fileName.startsWith(".")) continue;
      const to = relative("/src", resolve("/src", dirname(from), imported.fileName)).replace(/\.js$/, ".ts");
      const toLayer = layerOf(to);
      if (to.startsWith("..") || toLayer === undefined) {
        violations.push({ from, to, problem: "imports from outside the layers of src/" });
      } else if (toLayer > fromLayer) {
        violations.push({
          from,
          to,
          problem: `imports up a layer (${LAYERS[fromLayer]?.join(", ")} → ${LAYERS[toLayer]?.join(", ")})`,
        });
      }
    }
  }
  return violations;
}

function sourceFiles(srcDir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(srcDir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".ts")) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(srcDir, path), readFileSync(path, "utf8"));
  }
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const srcDir = join(dirname(fileURLToPath(import.meta.url)), "..", "src");
  const violations = checkImports(sourceFiles(srcDir));
  for (const v of violations) process.stderr.write(`src/${v.from}${v.to ? ` → src/${v.to}` : ""}: ${v.problem}\n`);
  if (violations.length > 0) {
    process.stderr.write(`${violations.length} import(s) break the layering (scripts/check-layers.ts)\n`);
    process.exit(1);
  }
}
