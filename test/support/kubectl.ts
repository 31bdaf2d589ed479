import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { CliResult } from "./steward.js";

const run = promisify(execFile);
const CONTROL_PLANE = new URL("../../scripts/control-plane.sh", import.meta.url).pathname;

let bindir: Promise<string> | undefined;

/**
 * Runs the control plane's kubectl (KUBECONFIG from the environment) as a user would;
 * never throws on a non-zero exit.
 */
export async function kubectl(...args: string[]): Promise<CliResult> {
  bindir ??= run("bash", [CONTROL_PLANE, "bindir"]).then((r) => r.stdout.trim());
  try {
    const { stdout, stderr } = await run(`${await bindir}/kubectl`, args, { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/** Like kubectl(), but a non-zero exit is an error carrying kubectl's stderr. */
export async function kubectlOk(...args: string[]): Promise<string> {
  const result = await kubectl(...args);
  if (result.code !== 0)
    throw new Error(`kubectl ${args.join(" ")} failed (exit ${result.code}): ${result.stderr.trim()}`);
  return result.stdout;
}
