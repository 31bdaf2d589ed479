import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateCrds } from "../../src/api/crds.js";
import type { Kind, Resource } from "../../src/api/resources.js";
import { tableHeaders, tableRow } from "../../src/cli/printers.js";
import { FULL_RESOURCES } from "../support/hostile.js";

/** The value at a printer column's simple jsonPath (`.a.b`, `[-1:]`), as kubectl prints it. */
function atPath(object: unknown, jsonPath: string): string {
  let value: unknown = object;
  for (const step of jsonPath.match(/\.[A-Za-z]+|\[-1:\]/g) ?? []) {
    if (step === "[-1:]") value = Array.isArray(value) ? value.at(-1) : undefined;
    else value = (value as Record<string, unknown> | undefined)?.[step.slice(1)];
  }
  return typeof value === "string" || typeof value === "number" ? String(value) : "";
}

describe("steward get and kubectl get show the same values in the columns they share", () => {
  const shared = ["TARGET", "PHASE", "REASON", "ATTEMPTS", "TOKENS"];
  const remediation = FULL_RESOURCES.find(
    (r): r is Extract<Resource, { kind: "AgentRemediation" }> => r.kind === "AgentRemediation",
  );

  it("the example remediation has usage, so TOKENS is not trivially 0", () => {
    assert.ok((remediation?.status?.usage?.outputTokens ?? 0) > 0);
    assert.notEqual(remediation?.status?.usage?.inputTokens, remediation?.status?.usage?.outputTokens);
  });

  for (const header of shared) {
    it(`AgentRemediation ${header}`, () => {
      assert.ok(remediation);
      const kind: Kind = "AgentRemediation";
      const column = generateCrds()
        .find((c) => c.spec.names.kind === kind)
        ?.spec.versions[0]?.additionalPrinterColumns?.find((c) => c.name.toUpperCase() === header);
      assert.ok(column, `the CRD has a ${header} column`);
      const cell = tableRow(kind, remediation, false, new Date())[tableHeaders(kind, false).indexOf(header)];
      assert.equal(cell, atPath(remediation, column.jsonPath), `${header}: steward get vs ${column.jsonPath}`);
    });
  }
});
