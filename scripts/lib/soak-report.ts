/** The soak's report: JSON with everything, and a markdown summary for people. */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Check, RssSample } from "./soak-checks.js";
import type { FaultRecord } from "./soak-faults.js";

export interface SoakReport {
  startedAt: string;
  finishedAt: string;
  durationS: number;
  options: Record<string, unknown>;
  verdict: "PASS" | "FAIL";
  checks: Record<
    "lostRecords" | "duplicateRemediations" | "duplicateActions" | "flatMemory" | "auditChains" | "cleanExit",
    Check<unknown>
  >;
  faults: { total: number; byKind: Record<string, number>; failed: number; records: FaultRecord[] };
  remediations: { total: number; byPhase: Record<string, number>; byReason: Record<string, number> };
  steward: {
    exitCode: number | null;
    simpleFixes: Record<string, number>;
    errorLines: number;
    modelRequests: number;
    metrics: Record<string, number>;
  };
  docker: { events: Record<string, number> };
  rss: RssSample[];
}

const tally = (keys: readonly string[]): Record<string, number> =>
  keys.reduce<Record<string, number>>((acc, k) => ({ ...acc, [k]: (acc[k] ?? 0) + 1 }), {});
export { tally };

function markdown(report: SoakReport): string {
  const row = (name: string, check: Check<unknown>): string =>
    `| ${name} | ${check.pass ? "PASS" : "**FAIL**"} | ${check.summary} |`;
  const kinds = Object.entries(report.faults.byKind)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  return `# Soak ${report.startedAt}: ${report.verdict}

Steward (\`steward run\`, file store, the scripted fake Messages API, agent mode \`auto\`)
against the etcd compose cluster for ${(report.durationS / 60).toFixed(1)} minutes, one random
fault every ${String(report.options.faultEvery)}.

| check | result | |
|---|---|---|
${row("zero lost records", report.checks.lostRecords)}
${row("zero duplicate remediations", report.checks.duplicateRemediations)}
${row("zero duplicate actions", report.checks.duplicateActions)}
${row("flat memory", report.checks.flatMemory)}
${row("audit chains verify", report.checks.auditChains)}
${row("clean exit on SIGTERM", report.checks.cleanExit)}

- Faults: ${report.faults.total} (${kinds}); ${report.faults.failed} could not be injected (e.g. the member was already stopped).
- Remediations: ${report.remediations.total} (${
    Object.entries(report.remediations.byPhase)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ") || "none"
  }); reasons: ${
    Object.entries(report.remediations.byReason)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ") || "none"
  }.
- Simple fixes: ${
    Object.entries(report.steward.simpleFixes)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ") || "none"
  }; model requests: ${report.steward.modelRequests}; error log lines: ${report.steward.errorLines}.
- Docker events: ${Object.entries(report.docker.events)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ")}.
- RSS samples: ${report.rss.length} (every 5 s); the JSON report has them all.
`;
}

/** Writes `soak-<time>.json` and `.md` to `dir`, and the same as `latest.json` / `latest.md`. */
export async function writeReport(dir: string, report: SoakReport): Promise<string> {
  await mkdir(dir, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, "-");
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const md = markdown(report);
  for (const base of [`soak-${stamp}`, "latest"]) {
    await writeFile(join(dir, `${base}.json`), json);
    await writeFile(join(dir, `${base}.md`), md);
  }
  return join(dir, `soak-${stamp}.md`);
}
