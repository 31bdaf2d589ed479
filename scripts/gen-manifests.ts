// Writes manifests/ from the Helm chart (scripts/lib/manifests.ts) and removes any other
// YAML there but values.yaml, and manifests/argocd/argocd-cm-patch.yaml from the Argo CD
// health checks beside it (scripts/lib/argocd-health.ts). Builds helm first when it is
// missing. `npm run gen:manifests`.
import { execFileSync } from "node:child_process";
import { readdir, rm, writeFile } from "node:fs/promises";
import { ARGOCD_PATCH, argocdConfigMapPatch } from "./lib/argocd-health.js";
import { MANIFESTS_DIR, manifestFiles } from "./lib/manifests.js";

execFileSync("bash", [new URL("./helm.sh", import.meta.url).pathname, "build"], { stdio: "inherit" });
const files = await manifestFiles();
const keep = new Set(["values.yaml", ...files.map((f) => f.name)]);
for (const stale of (await readdir(MANIFESTS_DIR)).filter((n) => n.endsWith(".yaml") && !keep.has(n))) {
  await rm(`${MANIFESTS_DIR}/${stale}`);
  console.log(`removed manifests/${stale}`);
}
for (const file of files) {
  await writeFile(`${MANIFESTS_DIR}/${file.name}`, file.text);
  console.log(`wrote manifests/${file.name}`);
}
await writeFile(ARGOCD_PATCH, await argocdConfigMapPatch());
console.log("wrote manifests/argocd/argocd-cm-patch.yaml");
