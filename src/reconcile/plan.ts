import { parseDuration } from "../api/duration.js";
import {
  DEFAULT_RESTART_BUDGET,
  parseWorkloadName,
  type Drift,
  type FixRecord,
  type RestartBudget,
  type ServiceSpec,
  type SimpleFix,
} from "../api/desired-state.js";
import type { ContainerSnapshot } from "../observe/types.js";
import { containerOf, containersOfService, driftFingerprint } from "./drift.js";
import { restartMayBeInFlight } from "./fix-intents.js";
import { workloadSubject } from "./workload-drift.js";

export type OpenReason = "NoSimpleFix" | "SimpleFixDisabled" | "RestartBudgetExhausted";

/**
 * How long a workload may stay less ready than declared before it is a remediation: long
 * enough for pods to start and pass readiness after a rollout or a scale-up (ours
 * included), short of the Deployment controller's own 10-minute progress deadline.
 */
export const UNREADY_GRACE_MS = 60_000;

export type PlannedStep =
  | { type: "fix"; action: Extract<SimpleFix, "start" | "restart">; container: string; drift: Drift }
  /** Scale a workload (its drift subject, `deployment/web`) back to the declared replicas. */
  | { type: "fix"; action: "scale"; workload: string; replicas: number; drift: Drift }
  | { type: "open"; drift: Drift; fingerprint: string; reason: OpenReason; message: string; fixesTried: number }
  /**
   * Nothing to do now: an open remediation owns the drift, or Docker is already restarting
   * it; `escalated` when its remediation was escalated and a person owns it; `flappingUntil`
   * when its last remediation closed because it cleared by itself, too recently to open
   * another (the time a new one may open, if it is still here).
   */
  | { type: "wait"; drift: Drift; message: string; escalated?: true; flappingUntil?: string };

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
  /** Fingerprint → when its latest remediation closed because the drift cleared by itself. */
  selfClearedAt?: ReadonlyMap<string, string>;
  /** How long after such a close the same drift may open a new remediation (spec.remediation.cooldown). */
  reopenAfterMs?: number;
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
    return {
      type: "wait",
      drift,
      message: "escalated to a person; a new remediation opens only once this drift has cleared",
      escalated: true,
    };
  }
  const flapping = flappingUntil(input, fingerprint);
  const open = (reason: OpenReason, message: string, fixesTried = 0): PlannedStep =>
    flapping
      ? {
          type: "wait",
          drift,
          message: `cleared by itself and came back: a new remediation opens if it is still here at ${flapping} (spec.remediation.cooldown)`,
          flappingUntil: flapping,
        }
      : { type: "open", drift, fingerprint, reason, message, fixesTried };
  const service = workloadService(drift, input.services);
  if (service) return planWorkload(input, { drift, service, open });
  if (drift.type === "WorkloadUnready") return planUnready(input, drift, open);
  const action = simpleFixFor(drift, input.containers);
  if (action === undefined) return open("NoSimpleFix", `no simple fix for ${drift.type}`);
  if (action === "wait") return planDockerRestarting(input, drift, open);
  if (!input.simpleFixes.includes(action)) {
    return open("SimpleFixDisabled", `the simple fix "${action}" is disabled by spec.remediation.simpleFixes`);
  }
  return planContainerFix(input, { drift, action, open });
}

/**
 * A drift that flaps (its remediation closed because it cleared by itself, and it is back)
 * opens no new remediation until the cooldown has passed since that close: one remediation
 * per flap was a remediation storm (an invariant flapping while a member was down opened 11
 * in a row). Simple fixes are not held back. Undefined when a remediation may open now.
 */
function flappingUntil(input: PlanInput, fingerprint: string): string | undefined {
  const cleared = input.selfClearedAt?.get(fingerprint);
  if (cleared === undefined || !input.reopenAfterMs) return undefined;
  // Whole seconds, rounded up: the time shown is the time it opens.
  const until = Math.ceil((Date.parse(cleared) + input.reopenAfterMs) / 1000) * 1000;
  return until > input.now.getTime() ? new Date(until).toISOString().replace(/\.\d+Z$/, "Z") : undefined;
}

/** A start or restart, within the restart budget, and never on top of a restart that may still be under way. */
function planContainerFix(
  input: PlanInput,
  { drift, action, open }: { drift: Drift; action: "start" | "restart"; open: Open },
): PlannedStep {
  const container = containerOf(drift) ?? "";
  const snapshot = input.containers.find((c) => c.name === container);
  if (action === "restart" && restartMayBeInFlight(input.fixes, drift.subject, snapshot, input.now)) {
    return { type: "wait", drift, message: "a restart a stopped Steward began may still be under way" };
  }
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

type Open = (reason: OpenReason, message: string, fixesTried?: number) => PlannedStep;

/** The service whose workload a ReplicasMismatch names, when it names a Kubernetes workload. */
function workloadService(drift: Drift, services: readonly ServiceSpec[]): ServiceSpec | undefined {
  if (drift.type !== "ReplicasMismatch") return undefined;
  return services.find((s) => {
    const ref = parseWorkloadName(s.name);
    return ref !== undefined && workloadSubject(ref) === drift.subject;
  });
}

/** Scaling back is the simple fix for a workload whose replicas were changed, within its budget. */
function planWorkload(
  input: PlanInput,
  { drift, service, open }: { drift: Drift; service: ServiceSpec; open: Open },
): PlannedStep {
  if (!input.simpleFixes.includes("scale")) {
    return open("SimpleFixDisabled", 'the simple fix "scale" is disabled by spec.remediation.simpleFixes');
  }
  const budget = service.restartBudget ?? DEFAULT_RESTART_BUDGET;
  const used = fixesInWindow(input.fixes, drift.subject, budget, input.now);
  if (used >= budget.max) {
    return open(
      "RestartBudgetExhausted",
      `${used} scale-backs in the last ${budget.window} did not stick (restartBudget.max ${budget.max})`,
      used,
    );
  }
  return {
    type: "fix",
    action: "scale",
    workload: drift.subject,
    replicas: service.running ? service.replicas : 0,
    drift,
  };
}

/** Unready pods are normal for a while after any rollout; past the grace it is an incident. */
function planUnready(input: PlanInput, drift: Drift, open: Open): PlannedStep {
  const unreadyFor = input.now.getTime() - Date.parse(drift.since);
  if (unreadyFor < UNREADY_GRACE_MS) {
    return { type: "wait", drift, message: `waiting up to ${UNREADY_GRACE_MS / 1000}s for pods to become ready` };
  }
  return open(
    "NoSimpleFix",
    `not ready for ${Math.round(unreadyFor / 1000)}s; Steward has no simple fix for unready pods`,
  );
}

/**
 * A container in "restarting" is being restarted by Docker's own restart policy; Steward
 * adds no restarts of its own, and opens a remediation once Docker's restart count
 * passes the budget (a crash loop Docker cannot end).
 */
function planDockerRestarting(input: PlanInput, drift: Drift, open: Open): PlannedStep {
  const name = containerOf(drift) ?? "";
  const restarts = input.containers.find((c) => c.name === name)?.restartCount ?? 0;
  const budget = budgetFor(name, input.services, input.containers);
  if (restarts >= budget.max) {
    return open("RestartBudgetExhausted", `Docker restarted it ${restarts} times and it keeps failing`, restarts);
  }
  return { type: "wait", drift, message: "Docker's restart policy is restarting it" };
}

function simpleFixFor(
  drift: Drift,
  containers: readonly ContainerSnapshot[],
): "start" | "restart" | "wait" | undefined {
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
