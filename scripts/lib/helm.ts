/**
 * The helm that scripts/helm.sh builds (pinned, from the Go module proxy), for the chart
 * tests and `npm run gen:manifests`. Every call has a timeout.
 */
import { execFile } from "node:child_process";
import { access } from "node:fs/promises";
import { promisify } from "node:util";

const run = promisify(execFile);
const HELM_SH = new URL("../helm.sh", import.meta.url).pathname;

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

let path: Promise<string> | undefined;

/** The helm binary; an error saying how to build it when it is missing. */
export function helmPath(): Promise<string> {
  path ??= (async () => {
    const binary = (await run("bash", [HELM_SH, "path"])).stdout.trim();
    try {
      await access(binary);
    } catch {
      throw new Error(`no helm at ${binary}: run bash scripts/helm.sh build`);
    }
    return binary;
  })();
  return path;
}

/** Runs helm as a user would; never throws on a non-zero exit. */
export async function helm(...args: string[]): Promise<HelmResult> {
  try {
    const { stdout, stderr } = await run(await helmPath(), args, { timeout: 120_000, maxBuffer: 32 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message?: string };
    return {
      code: typeof e.code === "number" ? e.code : 1,
      stdout: e.stdout ?? "",
      stderr: e.stderr ?? e.message ?? "",
    };
  }
}

/** Like helm(), but a non-zero exit is an error carrying helm's stderr. */
export async function helmOk(...args: string[]): Promise<string> {
  const result = await helm(...args);
  if (result.code !== 0)
    throw new Error(`helm ${args.join(" ")} failed (exit ${result.code}): ${result.stderr.trim()}`);
  return result.stdout;
}
