// Writes dist/build-info.json (the commit the package is built from) for `steward --version`.
// Run by `npm pack` (prepack), after the build: a packed Steward has no .git to ask.
import { writeFile } from "node:fs/promises";
import { gitCommit } from "../src/cli/version.js";

const commit = gitCommit() ?? "unknown";
await writeFile(new URL("../dist/build-info.json", import.meta.url), `${JSON.stringify({ commit })}\n`);
console.log(`wrote dist/build-info.json: commit ${commit}`);
