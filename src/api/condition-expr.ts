import { z } from "zod";

/**
 * An invariant's `condition`: a comparison every returned sample must satisfy, or
 * `empty` / `nonEmpty` over the whole result (like an alerting rule's expression).
 */
export type ConditionExpr =
  { kind: "compare"; op: CompareOp; value: number } | { kind: "empty" } | { kind: "nonEmpty" };

export type CompareOp = "==" | "!=" | ">" | ">=" | "<" | "<=";

/**
 * Every valid condition, surrounding whitespace allowed: `empty`, `nonEmpty`, or an
 * operator and a number. Also the `pattern` of `condition` in the generated CRDs, so it
 * must stay valid in Go's RE2 as well as in JavaScript (no lookaround, no backreferences).
 * One difference remains: in RE2 `\s` is ASCII whitespace only, so the API server rejects
 * a condition padded with e.g. a no-break space that this parser accepts.
 */
export const CONDITION_EXPR_RE =
  /^\s*(?:(empty)|(nonEmpty)|(==|!=|>=|<=|>|<)\s*(-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?))\s*$/;

export function parseConditionExpr(text: string): ConditionExpr | undefined {
  const match = CONDITION_EXPR_RE.exec(text);
  if (!match) return undefined;
  if (match[1] !== undefined) return { kind: "empty" };
  if (match[2] !== undefined) return { kind: "nonEmpty" };
  return { kind: "compare", op: match[3] as CompareOp, value: Number(match[4]) };
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
