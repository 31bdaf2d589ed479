import { z } from "zod";
import type { Target } from "../api/desired-state.js";
import { KUBERNETES_ONLY_TOOLS } from "./kube-tools.js";
import { shell } from "./shell-tool.js";
import { DOCKER_ONLY_TOOLS, escalateTool, queryPrometheus, resolveTool, type ToolDefinition } from "./tools.js";

/** The tools of one session: fixed by the target's kind, so the same for every incident of that kind. */
export type Toolset = readonly ToolDefinition<never>[];

const shared = (own: Toolset): Toolset => [
  queryPrometheus as ToolDefinition<never>,
  ...own,
  shell as ToolDefinition<never>,
  resolveTool as ToolDefinition<never>,
  escalateTool as ToolDefinition<never>,
];

export const DOCKER_TOOLS: Toolset = shared(DOCKER_ONLY_TOOLS);
export const KUBERNETES_TOOLS: Toolset = shared(KUBERNETES_ONLY_TOOLS);

export function toolsetFor(target: Target): Toolset {
  return target.kubernetes ? KUBERNETES_TOOLS : DOCKER_TOOLS;
}

export function findTool(toolset: Toolset, name: string): ToolDefinition<unknown> | undefined {
  return toolset.find((t) => t.name === name);
}

interface ToolParam {
  name: string;
  description: string;
  input_schema: { type: "object"; [k: string]: unknown };
  cache_control?: { type: "ephemeral" };
}

/** Converting the schemas costs about a millisecond; a toolset never changes, so once each. */
const paramsOf = new WeakMap<Toolset, ToolParam[]>();

/**
 * The tool list as the Messages API wants it; the last tool carries the cache breakpoint.
 * The same array every call for one toolset (callers must not change it): every request
 * sends the same bytes, which the prompt cache needs anyway.
 */
export function toolParams(toolset: Toolset): ToolParam[] {
  const known = paramsOf.get(toolset);
  if (known) return known;
  const params = toolset.map((tool, index) => {
    const schema = z.toJSONSchema(tool.input as z.ZodType) as { [k: string]: unknown };
    delete schema.$schema;
    return {
      name: tool.name,
      description: tool.description,
      input_schema: { ...schema, type: "object" as const },
      ...(index === toolset.length - 1 ? { cache_control: { type: "ephemeral" as const } } : {}),
    };
  });
  paramsOf.set(toolset, params);
  return params;
}
