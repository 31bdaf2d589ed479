// Rewrites the generated parts of README.md (the configuration table) from the source.
import { readFileSync, writeFileSync } from "node:fs";
import { withSettingsTable } from "./lib/settings-doc.js";

const path = new URL("../README.md", import.meta.url);
const before = readFileSync(path, "utf8");
const after = withSettingsTable(before);
if (after !== before) writeFileSync(path, after);
process.stdout.write(after === before ? "README.md is up to date\n" : "README.md: configuration table rewritten\n");
