import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConditionExpr } from "../../src/api/condition-expr.js";

describe("parseConditionExpr", () => {
  const cases: [string, ReturnType<typeof parseConditionExpr>][] = [
    ["== 3", { kind: "compare", op: "==", value: 3 }],
    ["==3", { kind: "compare", op: "==", value: 3 }],
    ["> 0", { kind: "compare", op: ">", value: 0 }],
    [">= 0.5", { kind: "compare", op: ">=", value: 0.5 }],
    ["< -1", { kind: "compare", op: "<", value: -1 }],
    ["<= 1e3", { kind: "compare", op: "<=", value: 1000 }],
    ["!= 0", { kind: "compare", op: "!=", value: 0 }],
    ["empty", { kind: "empty" }],
    ["nonEmpty", { kind: "nonEmpty" }],
    ["=== 3", undefined],
    ["= 3", undefined],
    ["> three", undefined],
    ["nonempty", undefined],
    ["", undefined],
    ["== 3; rm", undefined],
  ];
  for (const [text, expected] of cases) {
    it(`${JSON.stringify(text)}`, () => assert.deepEqual(parseConditionExpr(text), expected));
  }
});
