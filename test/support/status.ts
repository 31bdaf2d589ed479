import type { DesiredState } from "../../src/api/desired-state.js";
import type { AgentRemediation } from "../../src/api/remediation.js";
import { cli } from "./steward.js";

/** Reads objects through the CLI, as a user would (`steward get … -o json`). */
export async function getDesiredState(stateDir: string, name: string): Promise<DesiredState | undefined> {
  const result = await cli(stateDir, "get", "ds", name, "-o", "json");
  return result.code === 0 ? (JSON.parse(result.stdout) as DesiredState) : undefined;
}

export async function listRemediations(stateDir: string): Promise<AgentRemediation[]> {
  const result = await cli(stateDir, "get", "remediations", "-o", "json");
  if (result.code !== 0) throw new Error(`steward get remediations failed: ${result.stderr}`);
  return (JSON.parse(result.stdout) as { items: AgentRemediation[] }).items;
}

export function condition(ds: DesiredState | undefined, type: string): string | undefined {
  const c = ds?.status?.conditions.find((x) => x.type === type);
  return c ? `${c.status}/${c.reason}` : undefined;
}
