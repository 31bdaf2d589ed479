import { parseDuration } from "../api/duration.js";
import {
  DEFAULT_RESTART_BUDGET,
  type Drift,
  type FixRecord,
  type RestartBudget,
  type ServiceSpec,
  type SimpleFix,
} from "../api/desired-state.js";
import type { ContainerSnapshot } from "../observe/types.js";
import { containerOf, containersOfService, driftFingerprint } from "./drift.js";

export type OpenReason = "NoSimpleFix" | "SimpleFixDisabled" | "RestartBudgetExhausted";

export type PlannedStep =
  | { type: "fix"; action: Extract<SimpleFix, "start" | "restart">; container: string; drift: Drift }
  | { type: "open"; drift: Drift; fingerprint: string; reason: OpenReason; message: string; fixesTried: number }
  /** Nothing to do now: an open remediation owns the drift, or Docker is already restarting it. */
  | { type: "wait"; drift: Drift; message: string };

export interface PlanInput {
  desiredState: string;
  services: readonly ServiceSpec[];
  simpleFixes: readonly SimpleFix[];
  drift: readonly Drift[];
  containers: readonly ContainerSnapshot[];
  fixes: readonly FixRecord[];
  /** Fingerprints of this DesiredState's remediations that are still open. */
  openFingerprints: ReadonlySet<string>;
  /** Fingerprint → when its latest remediation was Escalated or Failed. */
  escalatedAt?: ReadonlyMap<string, string>;
  now: Date;
}

/**
 * Decides, for each drift, between a simple fix, opening a remediation, and waiting.
 * Pure. A drift that an open remediation already owns is left to it: Steward does not
 * keep restarting what it has handed to the agent or a person.
 */
export function planSteps(input: PlanInput): PlannedStep[] {
  return input.drift.map((drift) => planOne(input, drift));
}

function planOne(input: PlanInput, drift: Drift): PlannedStep {
  const fingerprint = driftFingerprint(input.desiredState, drift);
  if (input.openFingerprints.has(fingerprint)) {
    return { type: "wait", drift, message: "an open remediation owns this drift" };
  }
  const escalatedAt = input.escalatedAt?.get(fingerprint);
  if (escalatedAt !== undefined && Date.parse(escalatedAt) >= Date.parse(drift.since)) {
    // Reopening at every reconcile would be a remediation storm: a person owns it now.
    return { type: "wait", drift, message: "escalated to a person; a new remediation opens only once this drift has cleared" };
  }
  const open = (reason: OpenReason, message: string, fixesTried = 0): PlannedStep => ({
    type: "open",
    drift,
    fingerprint,
    reason,
    message,
    fixesTried,
  });
  const action = simpleFixFor(drift, input.containers);
  if (action === undefined) return open("NoSimpleFix", `no simple fix for ${drift.type}`);
  if (action === "wait") return planDockerRestarting(input, drift, open);
  if (!input.simpleFixes.includes(action)) {
    return open("SimpleFixDisabled", `the simple fix "${action}" is disabled by spec.remediation.simpleFixes`);
  }
  const container = containerOf(drift) ?? "";
  const budget = budgetFor(container, input.services, input.containers);
  const used = fixesInWindow(input.fixes, drift.subject, budget, input.now);
  if (used >= budget.max) {
    return open(
      "RestartBudgetExhausted",
      `${used} simple fixes in the last ${budget.window} did not stick (restartBudget.max ${budget.max})`,
      used,
    );
  }
  return { type: "fix", action, container, drift };
}

/**
 * A container in "restarting" is being restarted by Docker's own restart policy; Steward
 * adds no restarts of its own, and opens a remediation once Docker's restart count
 * passes the budget (a crash loop Docker cannot end).
 */
function planDockerRestarting(
  input: PlanInput,
  drift: Drift,
  open: (reason: OpenReason, message: string, fixesTried?: number) => PlannedStep,
): PlannedStep {
  const name = containerOf(drift) ?? "";
  const restarts = input.containers.find((c) => c.name === name)?.restartCount ?? 0;
  const budget = budgetFor(name, input.services, input.containers);
  if (restarts >= budget.max) {
    return open("RestartBudgetExhausted", `Docker restarted it ${restarts} times and it keeps failing`, restarts);
  }
  return { type: "wait", drift, message: "Docker's restart policy is restarting it" };
}

function simpleFixFor(drift: Drift, containers: readonly ContainerSnapshot[]): "start" | "restart" | "wait" | undefined {
  const name = containerOf(drift);
  const container = containers.find((c) => c.name === name);
  if (drift.type === "ContainerUnhealthy") return "restart";
  if (drift.type !== "ContainerStopped" || !container) return undefined;
  if (container.state === "restarting") return "wait";
  if (container.state === "paused") return undefined;
  return "start";
}

/** The restart budget of the service a container belongs to. */
export function budgetFor(
  container: string,
  services: readonly ServiceSpec[],
  containers: readonly ContainerSnapshot[],
): RestartBudget {
  const service = services.find((s) => containersOfService(s, containers).some((c) => c.name === container));
  return service?.restartBudget ?? DEFAULT_RESTART_BUDGET;
}

export function fixesInWindow(fixes: readonly FixRecord[], subject: string, budget: RestartBudget, now: Date): number {
  const windowMs = parseDuration(budget.window) ?? 0;
  const from = now.getTime() - windowMs;
  return fixes.filter((f) => f.subject === subject && Date.parse(f.time) > from).length;
}
