// Writes crds/<plural>.steward.dev.yaml from the zod schemas (src/api/crds.ts) and removes
// any other YAML from crds/, which holds generated files only. `npm run gen:crds`.
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { crdFiles } from "../src/api/crds.js";

const dir = fileURLToPath(new URL("../crds/", import.meta.url));
await mkdir(dir, { recursive: true });
const files = crdFiles();
const names = new Set(files.map((file) => file.name));
for (const stale of (await readdir(dir)).filter((name) => name.endsWith(".yaml") && !names.has(name))) {
  await rm(dir + stale);
  console.log(`removed crds/${stale}`);
}
for (const file of files) {
  await writeFile(dir + file.name, file.text);
  console.log(`wrote crds/${file.name}`);
}
