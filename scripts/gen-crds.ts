// Writes crds/<plural>.steward.dev.yaml (with a kustomization) and the same CRDs into the
// Helm chart's crds/ from the zod schemas (src/api/crds.ts), and removes any other YAML
// from both, which hold generated files only. `npm run gen:crds`.
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { CRD_KUSTOMIZATION, crdFiles } from "../src/api/crds.js";

const files = crdFiles();
const targets = [
  { dir: "crds/", files },
  // Helm installs every file in a chart's crds/ as is: no kustomization there.
  { dir: "charts/steward/crds/", files: files.filter((file) => file.name !== CRD_KUSTOMIZATION) },
];
for (const target of targets) {
  const dir = fileURLToPath(new URL(`../${target.dir}`, import.meta.url));
  await mkdir(dir, { recursive: true });
  const names = new Set(target.files.map((file) => file.name));
  for (const stale of (await readdir(dir)).filter((name) => name.endsWith(".yaml") && !names.has(name))) {
    await rm(dir + stale);
    console.log(`removed ${target.dir}${stale}`);
  }
  for (const file of target.files) {
    await writeFile(dir + file.name, file.text);
    console.log(`wrote ${target.dir}${file.name}`);
  }
}
