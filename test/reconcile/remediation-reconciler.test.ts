import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  ModelUnavailableError,
  type SessionOutcome,
  type SessionRunContext,
  type SessionRunner,
} from "../../src/reconcile/session-runner.js";
import type { ContainerSnapshot } from "../../src/observe/types.js";
import { container, dockerShowing } from "./fixtures.js";
import { waitFor } from "../../scripts/lib/wait.js";
import type { DesiredState } from "../../src/api/desired-state.js";
import { validateResource } from "../../src/api/load.js";
import type { AgentRemediation, RemediationStatus } from "../../src/api/remediation.js";
import { silentLogger } from "../../src/telemetry/logging.js";
import { CircuitBreaker } from "../../src/resilience/circuit-breaker.js";
import { MODEL_RETRY, RemediationReconciler } from "../../src/reconcile/remediation-reconciler.js";
import { emptyRemediationStatus } from "../../src/reconcile/remediations.js";
import { StewardMetrics } from "../../src/telemetry/metrics.js";
import { FileStore } from "../../src/store/file/file-store.js";
import { SystemObserver } from "../../src/reconcile/observation.js";
import { SessionSlots } from "../../src/reconcile/session-slots.js";
import { AlertCache } from "../../src/observe/alerts/cache.js";
import type { ReceivedAlert } from "../../src/observe/types.js";

/**
 * The RemediationReconciler's storm controls on a real (file) store, with a stand-in for the
 * agent runner: the cooldown between sessions of one DesiredState, the circuit breaker, and
 * the backoff after the Messages API failed. No engines needed.
 */
function parse<T>(value: unknown): T {
  const result = validateResource(value);
  if (!result.ok) throw new Error(result.problems.join("; "));
  return result.resource as T;
}

function desiredState(cooldown: string): DesiredState {
  return parse({
    apiVersion: "steward.dev/v1alpha1",
    kind: "DesiredState",
    metadata: { name: "ds", namespace: "default" },
    spec: {
      target: { docker: { project: "p" } },
      services: [{ name: "a" }],
      remediation: { simpleFixes: [], agent: { mode: "auto" }, cooldown },
    },
  });
}

function remediation(name: string, status: Partial<RemediationStatus>): AgentRemediation {
  return parse({
    apiVersion: "steward.dev/v1alpha1",
    kind: "AgentRemediation",
    metadata: { name, namespace: "default" },
    spec: {
      desiredStateRef: { name: "ds", namespace: "default" },
      fingerprint: `ds/ContainerStopped/container/${name}`,
      reason: "SimpleFixDisabled",
      drift: [
        {
          type: "ContainerStopped",
          subject: `container/${name}`,
          expected: "running",
          observed: "exited",
          since: "2026-11-24T10:00:00Z",
        },
      ],
      policyRef: "default",
      mode: "auto",
    },
    status: { ...emptyRemediationStatus(), openedAt: "2026-11-24T10:00:00Z", ...status },
  });
}

type Step = SessionOutcome | Error | ((context: SessionRunContext) => Promise<SessionOutcome>);

/** Answers each run with the next outcome (or throws it, or runs it); counts the runs. */
class ScriptedRunner implements SessionRunner {
  runs: string[] = [];
  constructor(private readonly outcomes: Step[]) {}
  run(r: AgentRemediation, _d: DesiredState, context: SessionRunContext): Promise<SessionOutcome> {
    this.runs.push(r.metadata.name);
    const next = this.outcomes.shift() ?? { type: "escalated", reason: "script exhausted" };
    if (typeof next === "function") return next(context);
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  }
}

async function setup(options: {
  cooldown?: string;
  outcomes: Step[];
  threshold?: number;
  /** What Docker shows; absent: Docker is not observed, so no drift can be seen to clear. */
  containers?: () => ContainerSnapshot[];
  slots?: SessionSlots;
  alerts?: AlertCache;
}): Promise<{ store: FileStore; runner: ScriptedRunner; reconciler: RemediationReconciler; metrics: StewardMetrics }> {
  const store = new FileStore(await mkdtemp(join(tmpdir(), "steward-remrec-")));
  await store.apply(desiredState(options.cooldown ?? "0s"));
  const runner = new ScriptedRunner(options.outcomes);
  const metrics = new StewardMetrics();
  const breaker = new CircuitBreaker(
    { threshold: options.threshold ?? 3, openForMs: 60_000 },
    { metrics, logger: silentLogger() },
  );
  const reconciler = new RemediationReconciler({
    store,
    runner,
    breaker,
    metrics,
    observer: new SystemObserver({
      ...(options.containers ? { docker: dockerShowing(options.containers) } : {}),
      ...(options.alerts ? { alerts: options.alerts } : {}),
    }),
    slots: options.slots ?? new SessionSlots(2, () => undefined),
  });
  return { store, runner, reconciler, metrics };
}

const context = { signal: new AbortController().signal, logger: silentLogger() };
const request = (name: string): { key: string; namespace: string; name: string } => ({
  key: `AgentRemediation/default/${name}`,
  namespace: "default",
  name,
});

async function status(store: FileStore, name: string): Promise<RemediationStatus | undefined> {
  return (await store.get("AgentRemediation", { namespace: "default", name }))?.status;
}

async function sample(metrics: StewardMetrics, name: string, labels: string): Promise<number> {
  const line = (await metrics.registry.metrics()).split("\n").find((l) => l.startsWith(`${name}${labels} `));
  return Number(line?.split(" ")[1]);
}

describe("RemediationReconciler: cooldown between sessions of one DesiredState", () => {
  it("a new remediation waits (Cooldown, with the time it starts) while another session of the DesiredState ended within the cooldown", async () => {
    const { store, runner, reconciler, metrics } = await setup({ cooldown: "5m", outcomes: [] });
    const endedAt = new Date(Date.now() - 60_000).toISOString();
    await store.create(remediation("earlier", { phase: "Resolved", sessionId: "s-1", closedAt: endedAt }));
    await store.create(remediation("next", {}));
    const result = await reconciler.reconcile(request("next"), context);
    assert.equal(result.type, "requeueAfter");
    assert.ok(
      result.type === "requeueAfter" && result.ms > 230_000 && result.ms <= 240_000,
      `requeued after ${JSON.stringify(result)}`,
    );
    const s = await status(store, "next");
    assert.equal(s?.reason, "Cooldown");
    assert.match(
      s?.message ?? "",
      /another session for ds ended recently; starting at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(spec\.remediation\.cooldown\)/,
    );
    assert.deepEqual(runner.runs, []);
    assert.equal(await sample(metrics, "steward_agent_sessions_deferred_total", '{reason="Cooldown"}'), 1);

    // Looking again changes nothing in the store: waiting is not a write per look.
    const version = (await store.get("AgentRemediation", { namespace: "default", name: "next" }))?.metadata
      .resourceVersion;
    await reconciler.reconcile(request("next"), context);
    assert.equal(
      (await store.get("AgentRemediation", { namespace: "default", name: "next" }))?.metadata.resourceVersion,
      version,
    );
  });

  it("a session starts once the cooldown has passed", async () => {
    const { store, runner, reconciler } = await setup({
      cooldown: "1m",
      outcomes: [{ type: "resolved", summary: "ok" }],
    });
    await store.create(
      remediation("earlier", {
        phase: "Resolved",
        sessionId: "s-1",
        closedAt: new Date(Date.now() - 120_000).toISOString(),
      }),
    );
    await store.create(remediation("next", {}));
    assert.deepEqual(await reconciler.reconcile(request("next"), context), { type: "done" });
    assert.deepEqual(runner.runs, ["next"]);
  });
});

describe("RemediationReconciler: the Messages API down", () => {
  it("the session is not escalated: ModelUnavailable in the status, and it is not run again before the backoff is over", async () => {
    const { store, runner, reconciler, metrics } = await setup({
      outcomes: [new ModelUnavailableError(new Error("Connection error."))],
      threshold: 5,
    });
    await store.create(remediation("r", {}));
    const result = await reconciler.reconcile(request("r"), context);
    assert.ok(
      result.type === "requeueAfter" && result.ms >= 5_000 && result.ms <= MODEL_RETRY.baseMs,
      JSON.stringify(result),
    );
    const s = await status(store, "r");
    assert.equal(s?.reason, "ModelUnavailable");
    assert.match(
      s?.message ?? "",
      /the Messages API is unavailable: Connection error\.; the session is saved and goes on when the API answers \(next try at /,
    );
    assert.equal(await sample(metrics, "steward_agent_api_errors_total", ""), 1);
    // Its own status write brings it back at once (a watch event): it must still wait.
    const again = await reconciler.reconcile(request("r"), context);
    assert.ok(again.type === "requeueAfter" && again.ms <= MODEL_RETRY.baseMs);
    assert.deepEqual(runner.runs, ["r"]);
  });
});

describe("RemediationReconciler: the circuit breaker", () => {
  it("after `threshold` failed sessions a new one waits Pending with CircuitOpen, naming the last failure; an approval is still carried out", async () => {
    const { store, runner, reconciler, metrics } = await setup({
      threshold: 2,
      outcomes: [
        { type: "escalated", reason: "budget maxTurns reached" },
        new ModelUnavailableError(new Error("529 overloaded")),
        { type: "resolved", summary: "approved start ran" },
      ],
    });
    for (const name of ["a", "b", "c"]) await store.create(remediation(name, {}));
    await reconciler.reconcile(request("a"), context);
    await reconciler.reconcile(request("b"), context);
    assert.equal(await sample(metrics, "steward_agent_circuit_state", '{state="open"}'), 1);

    const result = await reconciler.reconcile(request("c"), context);
    assert.ok(result.type === "requeueAfter" && result.ms > 50_000);
    const s = await status(store, "c");
    assert.equal(s?.phase, "Pending");
    assert.equal(s?.reason, "CircuitOpen");
    assert.match(
      s?.message ?? "",
      /circuit breaker is open after repeated failures \(last: the Messages API is unavailable: 529 overloaded\); no session starts before /,
    );
    assert.deepEqual(runner.runs, ["a", "b"]);
    assert.equal(await sample(metrics, "steward_agent_sessions_deferred_total", '{reason="CircuitOpen"}'), 1);

    // A person approved a call of a session waiting for approval: that run is not held back.
    await store.create(
      remediation("d", {
        phase: "AwaitingApproval",
        sessionId: "s-d",
        pendingApproval: [
          {
            id: "t1",
            tool: "docker_start",
            command: ["docker", "start", "d"],
            reason: "ask",
            requestedAt: "2026-11-24T10:00:00Z",
          },
        ],
      }),
    );
    await store.annotate(
      "AgentRemediation",
      { namespace: "default", name: "d" },
      { "steward.dev/approve": "t1", "steward.dev/approved-by": "dana" },
    );
    await reconciler.reconcile(request("d"), context);
    assert.deepEqual(runner.runs, ["a", "b", "d"]);
  });
});

describe("RemediationReconciler: the owner of the remediation's status", () => {
  const project = { project: "p", labels: { "com.docker.compose.project": "p" } };

  it("a Pending remediation whose drift went away by itself closes as Resolved/DriftCleared, and no session runs", async () => {
    const { store, runner, reconciler } = await setup({
      outcomes: [],
      containers: () => [container("a", { ...project, service: "a" })],
    });
    await store.create(remediation("a", {}));
    assert.deepEqual(await reconciler.reconcile(request("a"), context), { type: "done" });
    const s = await status(store, "a");
    assert.equal(s?.phase, "Resolved");
    assert.equal(s?.reason, "DriftCleared");
    assert.ok(s?.closedAt);
    assert.deepEqual(runner.runs, []);
  });

  it("a drift still there: the session runs; a remediation a session works on is not closed by the owner's look", async () => {
    const exited = { ...project, service: "a", state: "exited" as const, exitCode: 1 };
    let shown = [container("a", exited)];
    const { store, runner, reconciler } = await setup({
      outcomes: [{ type: "escalated", reason: "gave up" }],
      containers: () => shown,
    });
    await store.create(remediation("a", {}));
    await reconciler.reconcile(request("a"), context);
    assert.deepEqual(runner.runs, ["a"]);
    await store.create(remediation("b", { phase: "Investigating", sessionId: "S" }));
    shown = [];
    await reconciler.reconcile(request("b"), context);
    assert.equal((await status(store, "b"))?.phase, "Investigating", "its session's own verification closes it");
    assert.deepEqual(runner.runs, ["a", "b"], "the session goes on");
  });

  it("a remediation an alert opened closes as Resolved/DriftCleared once the alert cache has it resolved; one still firing stays open", async () => {
    const alerts = new AlertCache({ logger: silentLogger() });
    const { store, reconciler } = await setup({ outcomes: [{ type: "escalated", reason: "gave up" }], alerts });
    const alert = (fingerprint: string, state: ReceivedAlert["status"]): ReceivedAlert => ({
      fingerprint,
      status: state,
      labels: { alertname: "Down" },
      annotations: {},
      startsAt: "2026-11-24T10:00:00Z",
    });
    alerts.receive([alert("0a", "firing"), alert("0b", "firing")]);
    alerts.receive([alert("0b", "resolved")]);
    for (const [name, fingerprint] of [
      ["a", "0a"],
      ["b", "0b"],
    ] as const) {
      const r = remediation(name, {});
      r.spec.drift = [{ ...r.spec.drift[0]!, type: "AlertFiring", subject: `alert/${fingerprint}` }];
      await store.create(r);
    }
    await reconciler.reconcile(request("b"), context);
    assert.equal((await status(store, "b"))?.phase, "Resolved");
    assert.equal((await status(store, "b"))?.reason, "DriftCleared");
    await reconciler.reconcile(request("a"), context);
    assert.notEqual((await status(store, "a"))?.phase, "Resolved");
  });

  it("its DesiredState deleted: Cancelled, with the reason", async () => {
    const { store, runner, reconciler } = await setup({ outcomes: [] });
    await store.create(remediation("a", { phase: "AwaitingApproval" }));
    await store.delete("DesiredState", { namespace: "default", name: "ds" });
    await reconciler.reconcile(request("a"), context);
    const s = await status(store, "a");
    assert.equal(s?.phase, "Cancelled");
    assert.equal(s?.reason, "DesiredStateDeleted");
    assert.equal(s?.message, "DesiredState ds was deleted");
    assert.deepEqual(runner.runs, []);
  });

  it("a remediation without its opening status yet (the kubernetes store's two-step create) is left alone", async () => {
    const { store, runner, reconciler } = await setup({ outcomes: [] });
    const unborn = remediation("a", {});
    delete unborn.status;
    await store.create(unborn);
    await reconciler.reconcile(request("a"), context);
    assert.equal(await status(store, "a"), undefined);
    assert.deepEqual(runner.runs, []);
  });

  it("the session's status changes go through the owner's writer, which the store then holds", async () => {
    const { store, reconciler } = await setup({
      outcomes: [
        async ({ status }) => {
          await status.apply({
            type: "sessionStarted",
            sessionId: "S1",
            message: "investigating",
            at: "2026-11-24T10:00:00Z",
          });
          assert.equal(
            (await store.get("AgentRemediation", { namespace: "default", name: "a" }))?.status?.sessionId,
            "S1",
          );
          return { type: "escalated", reason: "gave up" };
        },
      ],
    });
    await store.create(remediation("a", {}));
    await reconciler.reconcile(request("a"), context);
    assert.equal((await status(store, "a"))?.sessionId, "S1");
  });

  it("with every session slot taken a remediation waits Pending without a worker held, and is woken when the slot frees", async () => {
    const woken: string[] = [];
    let finish: (outcome: SessionOutcome) => void = () => undefined;
    const { store, runner, reconciler } = await setup({
      outcomes: [
        () => new Promise<SessionOutcome>((resolve) => (finish = resolve)),
        { type: "resolved", summary: "ok" },
      ],
      slots: new SessionSlots(1, (key) => woken.push(key)),
    });
    await store.create(remediation("a", {}));
    await store.create(remediation("b", {}));
    const first = reconciler.reconcile(request("a"), context);
    await waitFor(() => runner.runs.length === 1, 5_000, "the first session running");
    assert.deepEqual(await reconciler.reconcile(request("b"), context), { type: "done" });
    assert.equal((await status(store, "b"))?.phase, "Pending");
    assert.deepEqual(woken, []);
    finish({ type: "escalated", reason: "gave up" });
    await first;
    assert.deepEqual(woken, ["AgentRemediation/default/b"]);
    await reconciler.reconcile(request("b"), context);
    assert.deepEqual(runner.runs, ["a", "b"]);
  });
});
