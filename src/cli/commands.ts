import { loadManifests } from "../api/load.js";
import { KINDS, resolveKind, type Kind, type Resource } from "../api/resources.js";
import { DEFAULT_NAMESPACE } from "../api/meta.js";
import { NotFoundError, StewardError, ValidationError } from "../errors.js";
import type { Store } from "../store/store.js";
import { describeResource } from "./describe.js";
import { formatObjects, resourceName, tableHeaders, tableRow, type OutputFormat } from "./printers.js";
import { formatTable } from "./table.js";

export interface Output {
  out(text: string): void;
}

const VALID_TYPES = Object.values(KINDS)
  .map((k) => `${k.plural} (${k.shortNames[0] ?? k.singular})`)
  .join(", ");

export function kindArgument(typed: string | undefined): Kind {
  if (!typed) throw new StewardError(`you must specify the type of resource; valid types: ${VALID_TYPES}`);
  const kind = resolveKind(typed);
  if (!kind) throw new StewardError(`the server doesn't have a resource type "${typed}"; valid types: ${VALID_TYPES}`);
  return kind;
}

export function outputFormat(typed: string | undefined): OutputFormat {
  if (typed === undefined) return "table";
  if (["wide", "yaml", "json", "name"].includes(typed)) return typed as OutputFormat;
  throw new StewardError(`-o: expected one of wide, yaml, json, name; got ${JSON.stringify(typed)}`);
}

/**
 * `steward apply -f`: every file is loaded and validated before the first write, so one
 * invalid document stores nothing.
 */
export async function applyCommand(store: Store, paths: readonly string[], output: Output): Promise<void> {
  if (paths.length === 0) throw new ValidationError(["apply: expected -f FILE|DIR"]);
  const loaded = await loadManifests(paths);
  const seen = new Set<string>();
  for (const { resource, source } of loaded) {
    const key = `${resource.kind}/${resource.metadata.namespace}/${resource.metadata.name}`;
    if (seen.has(key))
      throw new ValidationError([`${source}: ${resource.kind} "${resource.metadata.name}" appears twice`]);
    seen.add(key);
  }
  for (const { resource } of loaded) {
    const result = await store.apply(resource);
    output.out(`${resourceName(result.object)} ${result.outcome}`);
  }
}

export interface GetOptions {
  output?: string;
  namespace?: string;
  /** `-A`: every namespace, with a NAMESPACE column, as kubectl get -A. */
  allNamespaces?: boolean;
}

/** Where `get` looks: one namespace, or every one (undefined) with -A. */
function scopeOf(args: { name?: string }, options: GetOptions): string | undefined {
  if (!options.allNamespaces) return options.namespace ?? DEFAULT_NAMESPACE;
  if (args.name !== undefined)
    throw new StewardError("a resource cannot be retrieved by name across all namespaces; use -n NAMESPACE");
  return undefined;
}

export async function getCommand(
  store: Store,
  args: { type?: string; name?: string },
  options: GetOptions,
  output: Output,
): Promise<void> {
  const kind = kindArgument(args.type);
  const format = outputFormat(options.output);
  const namespace = scopeOf(args, options);
  let items: Resource[];
  if (args.name && namespace !== undefined) {
    const found = await store.get(kind, { namespace, name: args.name });
    if (!found) throw new NotFoundError(KINDS[kind].singular, args.name);
    items = [found];
  } else {
    items = await store.list(kind, namespace);
  }
  output.out(renderItems(kind, items, { format, single: args.name !== undefined, namespace }));
}

/** How `get` prints: the format, whether one object was asked for, and the namespace (undefined: all, with -A). */
export interface RenderOptions {
  format: OutputFormat;
  single: boolean;
  namespace: string | undefined;
}

export function renderItems(kind: Kind, items: readonly Resource[], options: RenderOptions): string {
  const { format, single, namespace } = options;
  switch (format) {
    case "yaml":
    case "json":
      return formatObjects(items, format, single);
    case "name":
      return items.map(resourceName).join("\n");
    case "table":
    case "wide": {
      if (items.length === 0)
        return namespace === undefined ? "No resources found" : `No resources found in ${namespace} namespace.`;
      return table(kind, items, { wide: format === "wide", allNamespaces: namespace === undefined });
    }
  }
}

/** kubectl's table; with -A, a NAMESPACE column first. */
function table(kind: Kind, items: readonly Resource[], options: { wide: boolean; allNamespaces: boolean }): string {
  const { wide, allNamespaces } = options;
  const now = new Date();
  const headers = tableHeaders(kind, wide);
  const rows = items.map((item) => tableRow(kind, item as never, wide, now));
  if (!allNamespaces) return formatTable(headers, rows);
  return formatTable(
    ["NAMESPACE", ...headers],
    rows.map((row, i) => [items[i]?.metadata.namespace ?? "", ...row]),
  );
}

/**
 * `steward get -w`: the current list, then one line per change until interrupted, as
 * `kubectl get -w` does. Resolves when `signal` aborts.
 */
export async function watchCommand(
  store: Store,
  args: { type?: string; name?: string },
  options: GetOptions & { signal: AbortSignal },
  output: Output,
): Promise<void> {
  const { signal } = options;
  const kind = kindArgument(args.type);
  const format = outputFormat(options.output);
  const namespace = scopeOf(args, options);
  await store.start();
  const matches = (r: Resource): boolean =>
    r.kind === kind &&
    (namespace === undefined || r.metadata.namespace === namespace) &&
    (args.name === undefined || r.metadata.name === args.name);
  const initial = (await store.list(kind, namespace)).filter(matches);
  const tabular = format === "table" || format === "wide";
  const layout = { wide: format === "wide", allNamespaces: namespace === undefined };
  if (tabular) output.out(table(kind, initial, layout));
  else if (initial.length > 0) output.out(renderItems(kind, initial, { format, single: true, namespace }));
  const unsubscribe = store.watch((event) => {
    // A resync is not a change; kubectl get -w does not print one either.
    if (event.type === "SYNC" || !matches(event.object)) return;
    if (tabular) output.out(table(kind, [event.object], layout).split("\n")[1] ?? "");
    else output.out(renderItems(kind, [event.object], { format, single: true, namespace }));
  });
  await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
  unsubscribe();
  await store.close();
}

export async function describeCommand(
  store: Store,
  args: { type?: string; name?: string },
  namespace: string | undefined,
  output: Output,
): Promise<void> {
  const kind = kindArgument(args.type);
  const ns = namespace ?? DEFAULT_NAMESPACE;
  const items = args.name
    ? [await store.get(kind, { namespace: ns, name: args.name })].filter((r) => r !== undefined)
    : await store.list(kind, ns);
  if (args.name && items.length === 0) throw new NotFoundError(KINDS[kind].singular, args.name);
  output.out(items.map((item) => describeResource(item, new Date())).join("\n\n---\n\n"));
}

export async function deleteCommand(
  store: Store,
  args: { type?: string; names: readonly string[]; files: readonly string[] },
  namespace: string | undefined,
  output: Output,
): Promise<void> {
  const targets: { kind: Kind; namespace: string; name: string }[] = [];
  if (args.files.length > 0) {
    for (const { resource } of await loadManifests(args.files)) {
      targets.push({ kind: resource.kind, namespace: resource.metadata.namespace, name: resource.metadata.name });
    }
  } else {
    const kind = kindArgument(args.type);
    if (args.names.length === 0)
      throw new StewardError(`delete: expected a name, e.g. steward delete ${KINDS[kind].singular} NAME`);
    for (const name of args.names) targets.push({ kind, namespace: namespace ?? DEFAULT_NAMESPACE, name });
  }
  for (const target of targets) {
    const deleted = await store.delete(target.kind, target);
    if (!deleted) throw new NotFoundError(KINDS[target.kind].singular, target.name);
    output.out(`${target.kind.toLowerCase()}.steward.dev/${target.name} deleted`);
  }
}
