import { execFileSync } from "node:child_process";
import { readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The package root: src/cli/ or dist/cli/ is two levels below it. */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** What `npm pack` records (scripts/build-info.ts) in dist/build-info.json. */
interface BuildInfo {
  commit: string;
}

/**
 * `steward --version`: the package version, the commit it was built from, and the Node
 * running it. The commit comes from git when Steward runs from its own checkout, else from
 * dist/build-info.json (written when the package is packed), else it is "unknown" (an
 * image built without .git).
 */
export function versionText(): string {
  const { version } = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as { version: string };
  return `steward ${version} (commit ${gitCommit() ?? packedCommit() ?? "unknown"}, node ${process.version})`;
}

function packedCommit(): string | undefined {
  try {
    return (JSON.parse(readFileSync(`${ROOT}dist/build-info.json`, "utf8")) as BuildInfo).commit;
  } catch {
    return undefined;
  }
}

/**
 * HEAD of the checkout Steward runs from; undefined elsewhere, including an installed
 * package inside someone else's repository (whose top level is not this package).
 */
export function gitCommit(): string | undefined {
  try {
    const [top, head] = execFileSync("git", ["-C", ROOT, "rev-parse", "--show-toplevel", "--short=12", "HEAD"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 2_000,
    })
      .trim()
      .split("\n");
    const isOwnCheckout = top !== undefined && realpathSync(top) === realpathSync(ROOT);
    return isOwnCheckout && head !== undefined && /^[0-9a-f]{7,40}$/.test(head) ? head : undefined;
  } catch {
    return undefined;
  }
}
