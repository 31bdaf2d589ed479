import type { DesiredState, DesiredStateStatus } from "../../../src/api/desired-state.js";
import { desiredState } from "../contract.js";

/** How many objects the crash loop writes in turn. */
export const CRASH_OBJECTS = 3;

export type CrashWrite =
  | { op: "apply"; name: string; resource: DesiredState; project: string }
  | { op: "status"; name: string; status: DesiredStateStatus; message: string };

/**
 * Write i of the crash loop: objects o0..o2 in turn; three applies (creating them first),
 * then three status writes, and so on. Every write carries i, so the file shows which
 * writes landed.
 */
export function crashWrite(i: number): CrashWrite {
  const name = `o${i % CRASH_OBJECTS}`;
  if (Math.floor(i / CRASH_OBJECTS) % 2 === 0) {
    const project = `p-${i}`;
    return { op: "apply", name, resource: desiredState(name, project), project };
  }
  const message = `w-${i}`;
  const status: DesiredStateStatus = {
    conditions: [
      { type: "Ready", status: "True", reason: "CrashLoop", message, lastTransitionTime: new Date(0).toISOString() },
    ],
    drift: [],
    invariants: [],
    fixes: [],
  };
  return { op: "status", name, status, message };
}
