import { z } from "zod";

/**
 * An invariant's `condition`: a comparison every returned sample must satisfy, or
 * `empty` / `nonEmpty` over the whole result (like an alerting rule's expression).
 */
export type ConditionExpr =
  | { kind: "compare"; op: CompareOp; value: number }
  | { kind: "empty" }
  | { kind: "nonEmpty" };

export type CompareOp = "==" | "!=" | ">" | ">=" | "<" | "<=";

const COMPARE = /^\s*(==|!=|>=|<=|>|<)\s*(-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$/;

export function parseConditionExpr(text: string): ConditionExpr | undefined {
  const trimmed = text.trim();
  if (trimmed === "empty") return { kind: "empty" };
  if (trimmed === "nonEmpty") return { kind: "nonEmpty" };
  const match = COMPARE.exec(trimmed);
  if (!match) return undefined;
  return { kind: "compare", op: match[1] as CompareOp, value: Number(match[2]) };
}

export function compare(op: CompareOp, left: number, right: number): boolean {
  switch (op) {
    case "==":
      return left === right;
    case "!=":
      return left !== right;
    case ">":
      return left > right;
    case ">=":
      return left >= right;
    case "<":
      return left < right;
    case "<=":
      return left <= right;
  }
}

export const ConditionText = z.string().superRefine((value, ctx) => {
  if (parseConditionExpr(value) === undefined) {
    ctx.addIssue({
      code: "custom",
      message: `expected a comparison like "== 3" or "> 0", or "empty" / "nonEmpty", got ${JSON.stringify(value)}`,
    });
  }
});
