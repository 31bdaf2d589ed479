/**
 * kill -9 of `steward run` at each phase of a remediation and of a simple fix, then a
 * restart on the same state directory (file store). What ran is counted on Docker's own
 * event stream, never on Steward's word; the audit chain must verify afterwards.
 *
 * Where a crash must land between two of Steward's own steps, the test finds the point from
 * the outside: a Docker event (Steward is waiting for Docker), a fake-model request
 * (Steward is waiting for the model), or the file store's lock file, which the test holds
 * so that Steward's next status write waits (the store's documented cross-process lock).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { open, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parse } from "yaml";
import { containerState, docker, ensureCluster } from "../../scripts/lib/cluster.js";
import { waitFor } from "../../scripts/lib/wait.js";
import type { DesiredState } from "../../src/api/desired-state.js";
import type { AgentRemediation } from "../../src/api/remediation.js";
import { startAgentScenario, waitForPhase, type AgentScenario } from "../support/agent-scenario.js";
import { etcdDesiredState } from "../support/desired-states.js";
import { lastToolResults, text, toolTurns, toolUse } from "../support/fake-anthropic.js";
import { moreReconciles, settled } from "../support/metrics.js";
import { startReady } from "../support/start.js";
import { condition, getDesiredState, listRemediations } from "../support/status.js";
import { cli, StewardProcess } from "../support/steward.js";

const USAGE = { input_tokens: 1000, output_tokens: 100, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const ENV = { ANTHROPIC_API_KEY: "test-key-not-secret" };

const POLICY = `apiVersion: steward.dev/v1alpha1
kind: RemediationPolicy
metadata: {name: test}
spec:
  rules:
    - {decision: allow, command: "docker start *"}
    - {decision: allow, command: "docker restart *"}
    - {decision: allow, command: "docker ps *"}
`;

const reply = toolTurns(USAGE);
const nowSeconds = (): number => Date.now() / 1000;

/** How many `event`s Docker recorded for the container since `since` (unix seconds). */
async function dockerEvents(container: string, event: string, since: number): Promise<number> {
  const until = String(Math.ceil(nowSeconds()) + 1);
  const out = await docker(
    "events",
    "--since",
    since.toFixed(3),
    "--until",
    until,
    "--filter",
    `container=${container}`,
    "--filter",
    `event=${event}`,
    "--format",
    "{{.Status}}",
  );
  return out.split("\n").filter(Boolean).length;
}

/** `docker events` watchers still running; afterEach ends them, so a failed test leaves none behind. */
const watchers = new Set<() => void>();

/** Resolves at the first `event` of the container from `since` on (replayed if it already happened). */
function nextDockerEvent(container: string, event: string, since: number): { seen: Promise<void>; close: () => void } {
  const child = spawn(
    "docker",
    [
      "events",
      "--since",
      since.toFixed(3),
      "--filter",
      `container=${container}`,
      "--filter",
      `event=${event}`,
      "--format",
      "{{.Status}}",
    ],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  const close = (): void => {
    watchers.delete(close);
    child.kill();
  };
  watchers.add(close);
  const seen = new Promise<void>((resolve, reject) => {
    child.stdout.once("data", () => resolve());
    child.once("exit", (code) =>
      reject(new Error(`docker events exited (${code}) before ${container} reported ${event}`)),
    );
  });
  seen.catch(() => undefined);
  return { seen, close };
}

/** SIGKILL, and wait until the process is gone. */
async function killHard(steward: StewardProcess): Promise<void> {
  const pid = steward.pid();
  process.kill(pid, "SIGKILL");
  await waitFor(
    () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    },
    5_000,
    `steward (pid ${pid}) to die`,
  );
}

async function restart(scenario: AgentScenario, args: string[] = ["--verify-timeout", "3s"]): Promise<void> {
  const next = new StewardProcess(scenario.state, args, { ...ENV, ANTHROPIC_BASE_URL: scenario.fake.baseURL });
  await next.start();
  scenario.steward = next;
}

/** The object as stored, read straight from the state directory (the CLI would wait for a lock the test holds). */
async function stored<T>(state: string, plural: string, name: string): Promise<T> {
  return parse(await readFile(join(state, plural, "default", `${name}.yaml`), "utf8")) as T;
}

/** The first object of a kind (in namespace default) whose stored form satisfies `ready`, by its path. */
async function storedPathWhere<T>(
  state: string,
  plural: string,
  ready: (object: T) => boolean,
): Promise<string | undefined> {
  const dir = join(state, plural, "default");
  for (const file of (await readdir(dir).catch(() => [])).filter((f) => f.endsWith(".yaml"))) {
    const text = await readFile(join(dir, file), "utf8").catch(() => "");
    if (text.includes("Started") && ready(parse(text) as T)) return join(dir, file);
  }
  return undefined;
}

/**
 * Holds the file store's lock of the first object of a kind whose stored form is at the
 * point `ready` wants: Steward's next write of it waits (up to 15 s) instead of landing.
 * Call it before causing the drift: the window is short.
 */
async function holdLockWhen<T>(
  state: string,
  plural: string,
  ready: (object: T) => boolean,
): Promise<() => Promise<void>> {
  let path: string | undefined;
  // A tight loop, not waitFor's 25 ms: the window until Steward's next write is Docker's start of a container.
  for (const deadline = Date.now() + 30_000; !(path = await storedPathWhere(state, plural, ready)); await sleep(2)) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for a ${plural} object to reach the point to crash at`);
  }
  const lock = `${path}.lock`;
  // Steward removes its own lock of the write just seen a moment after the rename.
  for (const deadline = Date.now() + 5_000; ; await sleep(1)) {
    const handle = await open(lock, "wx", 0o600).catch(() => undefined);
    if (handle) {
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    }
    if (Date.now() > deadline) throw new Error(`timed out taking the lock ${lock}`);
  }
  return () => rm(lock, { force: true });
}

async function auditVerifies(state: string, name: string): Promise<void> {
  const verified = await cli(state, "audit", "verify", name);
  assert.equal(verified.code, 0, `audit verify: ${verified.stdout}${verified.stderr}`);
  assert.match(verified.stdout, /hash chain intact/);
}

describe("crash safety: kill -9 of steward run at each phase, then a restart on the same state dir", () => {
  let scenario: AgentScenario | undefined;
  let extra: StewardProcess | undefined;

  afterEach(async () => {
    for (const close of [...watchers]) close();
    await scenario?.stop();
    await extra?.stop();
    scenario = undefined;
    extra = undefined;
    await ensureCluster();
  });

  it("while the model decides (before it asks for the change): the conversation resumes and the start runs once", async () => {
    const t0 = nowSeconds();
    let killed: { done: Promise<void> } | undefined;
    scenario = await startAgentScenario({
      mode: "auto",
      policy: POLICY,
      script: [
        // Steward waits for this answer when it dies; the answer goes nowhere.
        () => {
          killed = { done: killHard(scenario?.steward ?? assert.fail("no scenario")) };
          return reply(toolUse("docker_start", { container: "etcd1" }));
        },
        reply(text("etcd1 is stopped; starting it."), toolUse("docker_start", { container: "etcd1" })),
        reply(toolUse("resolve", { summary: "started etcd1" })),
      ],
    });
    await docker("stop", "-t", "1", "etcd1");
    const asked = await waitFor(() => killed, 30_000, "the model to be asked");
    await asked.done;
    await restart(scenario);
    const done = await waitForPhase(scenario.state, ["Resolved", "Escalated", "Interrupted"], 45_000);
    assert.equal(done.status?.phase, "Resolved", done.status?.message);
    const [first, second] = scenario.fake.requests;
    assert.deepEqual(
      second?.body?.messages,
      first?.body?.messages,
      "the restarted Steward asked again from the saved conversation",
    );
    assert.equal(await dockerEvents("etcd1", "start", t0), 1, "Docker started etcd1 exactly once");
    assert.deepEqual(
      done.status?.actions.map((a) => [a.command.join(" "), a.state, a.exitCode]),
      [["docker start etcd1", "Finished", 0]],
    );
    await auditVerifies(scenario.state, done.metadata.name);
  });

  it("while awaiting approval, approved while Steward is down, and killed again right after the approved start: it ran once", async () => {
    const t0 = nowSeconds();
    const resolve = reply(toolUse("resolve", { summary: "started etcd1 after approval" }));
    // The last step is a spare: the second crash may land after Steward asked the model.
    scenario = await startAgentScenario({
      mode: "approve",
      script: [reply(toolUse("docker_start", { container: "etcd1" }, "toolu_start")), resolve, resolve],
    });
    const { state } = scenario;
    await docker("stop", "-t", "1", "etcd1");
    const awaiting = await waitForPhase(state, ["AwaitingApproval"]);
    await killHard(scenario.steward);
    const approved = await cli(state, "approve", awaiting.metadata.name, "--as", "alice");
    assert.equal(approved.code, 0, approved.stderr);
    const started = nextDockerEvent("etcd1", "start", nowSeconds());
    await restart(scenario);
    await started.seen;
    started.close();
    await killHard(scenario.steward);
    const atCrash = await stored<AgentRemediation>(state, "remediations", awaiting.metadata.name);
    assert.ok(
      atCrash.status?.actions.some((a) => a.id === "toolu_start"),
      "the change was on record when Docker reported it",
    );
    await restart(scenario);
    const done = await waitForPhase(state, ["Resolved", "Escalated", "Interrupted"], 45_000);
    assert.equal(done.status?.phase, "Resolved", done.status?.message);
    assert.equal(await dockerEvents("etcd1", "start", t0), 1, "Docker started etcd1 exactly once");
    const [action] = done.status?.actions ?? [];
    assert.equal(action?.approver, "alice");
    assert.ok(action?.state === "Finished" || action?.state === "Unknown", `recorded as ${action?.state}`);
    console.log(`second crash landed with the start recorded as ${atCrash.status?.actions[0]?.state}`);
    await auditVerifies(state, done.metadata.name);
  });

  it("after the change ran and before its result was recorded: not run again; the model is told the outcome is unknown, re-observes and resolves", async () => {
    const t0 = nowSeconds();
    scenario = await startAgentScenario({
      mode: "auto",
      policy: POLICY,
      script: [
        reply(text("etcd1 is stopped; starting it."), toolUse("docker_start", { container: "etcd1" }, "toolu_start")),
        (request) => {
          const [result] = lastToolResults(request);
          assert.equal(result?.toolUseId, "toolu_start");
          assert.equal(result?.isError, true);
          assert.match(result?.text ?? "", /outcome is unknown, so it was not run again/);
          return reply(toolUse("docker_ps", { all: true }));
        },
        (request) => {
          assert.match(lastToolResults(request)[0]?.text ?? "", /etcd1\s+running/);
          return reply(toolUse("resolve", { summary: "etcd1 is running again" }));
        },
      ],
    });
    const { state } = scenario;
    const started = nextDockerEvent("etcd1", "start", t0);
    // Once the idempotency record is stored, hold the lock: the result cannot be recorded.
    const holding = holdLockWhen<AgentRemediation>(
      state,
      "remediations",
      (r) => r.status?.actions.some((a) => a.state === "Started") === true,
    );
    await docker("stop", "-t", "1", "etcd1");
    const release = await holding;
    await started.seen;
    started.close();
    await killHard(scenario.steward);
    const opened = (await readdir(join(state, "remediations", "default"))).find(
      (f) => f.endsWith(".yaml") && !f.startsWith("."),
    );
    const atCrash = await stored<AgentRemediation>(state, "remediations", (opened ?? "").replace(/\.yaml$/, ""));
    await release();
    assert.deepEqual(
      atCrash.status?.actions.map((a) => [a.id, a.state]),
      [["toolu_start", "Started"]],
    );
    assert.equal(atCrash.status?.phase, "Remediating");
    await restart(scenario);
    const done = await waitForPhase(state, ["Resolved", "Escalated", "Interrupted"], 45_000);
    assert.equal(done.status?.phase, "Resolved", done.status?.message);
    assert.equal(await dockerEvents("etcd1", "start", t0), 1, "Docker started etcd1 exactly once");
    assert.deepEqual(
      done.status?.actions.map((a) => [a.id, a.state, a.exitCode]),
      [["toolu_start", "Unknown", undefined]],
    );
    assert.equal(scenario.fake.requests.length, 3);
    await auditVerifies(state, done.metadata.name);
    const logs = await cli(state, "logs", done.metadata.name);
    assert.match(logs.stdout, /docker start etcd1: started/);
    assert.match(logs.stdout, /docker start etcd1: outcome unknown, not run again/);
  });

  it("killed during a second change of one remediation: neither change is run again, and the remediation is Interrupted with the reason", async () => {
    const t0 = nowSeconds();
    scenario = await startAgentScenario({
      mode: "auto",
      policy: POLICY,
      script: [
        reply(
          text("etcd2 reports errors; restarting it first."),
          toolUse("docker_restart", { container: "etcd2" }, "toolu_r1"),
        ),
        (request) => {
          assert.match(lastToolResults(request)[0]?.text ?? "", /outcome is unknown/);
          return reply(toolUse("docker_restart", { container: "etcd2" }, "toolu_r2"));
        },
      ],
    });
    const { state } = scenario;
    await docker("stop", "-t", "1", "etcd1");
    for (const [i, id] of ["toolu_r1", "toolu_r2"].entries()) {
      // Docker reports "die" while it carries out the restart Steward is waiting for.
      const dying = nextDockerEvent("etcd2", "die", nowSeconds());
      await dying.seen;
      dying.close();
      await killHard(scenario.steward);
      const [atCrash] = await listRemediations(state);
      assert.equal(
        atCrash?.status?.actions.find((a) => a.id === id)?.state,
        "Started",
        `the record of ${id} was stored before Docker acted`,
      );
      await waitFor(
        async () => (await containerState("etcd2")) === "running",
        15_000,
        "Docker to finish the restart on its own",
      );
      await restart(scenario);
      if (i === 0) await waitFor(() => scenario?.fake.requests.length === 2, 30_000, "the model to be told");
    }
    const done = await waitForPhase(state, ["Interrupted", "Resolved", "Escalated"], 30_000);
    assert.equal(done.status?.phase, "Interrupted");
    assert.equal(done.status?.reason, "ActionsInterrupted");
    assert.match(
      done.status?.message ?? "",
      /during 2 changes.*docker restart etcd2; docker restart etcd2.*check the system/,
    );
    assert.ok(done.status?.closedAt);
    assert.deepEqual(
      done.status?.actions.map((a) => [a.id, a.state]),
      [
        ["toolu_r1", "Unknown"],
        ["toolu_r2", "Unknown"],
      ],
    );
    assert.equal(
      await dockerEvents("etcd2", "restart", t0),
      2,
      "each restart the model asked for ran once, none twice",
    );
    assert.equal(scenario.fake.requests.length, 2, "no model call after the interruption");
    // etcd1 is still stopped: each DesiredState reconcile finds the drift a person now owns.
    await moreReconciles(scenario.steward, "desiredstate", 2);
    assert.equal(
      (await listRemediations(state)).length,
      1,
      "no new remediation for the same drift: a person owns it now",
    );
    await auditVerifies(state, done.metadata.name);
  });

  it("during verification: verification runs again after the restart, and the remediation resolves", async () => {
    const t0 = nowSeconds();
    scenario = await startAgentScenario({
      mode: "auto",
      policy: POLICY,
      extraArgs: ["--verify-timeout", "60s"],
      script: [reply(toolUse("resolve", { summary: "etcd1 will be back" }))],
    });
    const { state } = scenario;
    await docker("stop", "-t", "1", "etcd1");
    const verifying = await waitForPhase(state, ["Verifying"]);
    await killHard(scenario.steward);
    await docker("start", "etcd1"); // a person fixed it while Steward was down
    await restart(scenario, ["--verify-timeout", "60s"]);
    const done = await waitForPhase(state, ["Resolved", "Escalated", "Interrupted"], 45_000);
    assert.equal(done.metadata.name, verifying.metadata.name);
    assert.equal(done.status?.phase, "Resolved", done.status?.message);
    assert.equal(done.status?.reason, "Verified");
    assert.ok(done.status?.verifiedAt);
    assert.deepEqual(
      done.status?.attempts.map((a) => [a.number, a.outcome]),
      [[1, "Verified"]],
    );
    assert.equal(scenario.fake.requests.length, 1, "no new model call: the pending resolve was verified again");
    assert.equal(await dockerEvents("etcd1", "start", t0), 1, "the person's start only");
    await auditVerifies(state, done.metadata.name);
  });

  it("simple fix: killed after docker start and before the outcome is written: not started twice, counted once, as Interrupted", async () => {
    const started0 = await startReady(etcdDesiredState({ agent: { mode: "off" } }));
    const { state } = started0;
    extra = started0.steward;
    const t0 = nowSeconds();
    const started = nextDockerEvent("etcd1", "start", t0);
    const holding = holdLockWhen<DesiredState>(
      state,
      "desiredstates",
      (ds) => ds.status?.fixes.some((f) => f.subject === "container/etcd1" && f.result === "Started") === true,
    );
    await docker("stop", "-t", "1", "etcd1");
    const release = await holding;
    await started.seen;
    started.close();
    await killHard(extra);
    const atCrash = await stored<DesiredState>(state, "desiredstates", "etcd");
    await release();
    assert.deepEqual(
      atCrash.status?.fixes.filter((f) => f.subject === "container/etcd1").map((f) => f.result),
      ["Started"],
      "the intent was stored before Docker acted",
    );
    extra = new StewardProcess(state);
    await extra.start();
    const ds = await waitFor(
      async () => {
        const current = await getDesiredState(state, "etcd");
        return condition(current, "Ready") === "True/AsDeclared" &&
          current?.status?.fixes.some((f) => f.result === "Interrupted")
          ? current
          : undefined;
      },
      20_000,
      "Ready, the interrupted fix settled",
    );
    // Converged, the DesiredState is reconciled again only on a change: settled is the signal.
    await settled(extra, "desiredstate");
    assert.equal(await dockerEvents("etcd1", "start", t0), 1, "Docker started etcd1 exactly once");
    const fixes =
      ds.status?.fixes.filter((f) => f.subject === "container/etcd1" && Date.parse(f.time) >= t0 * 1000 - 1000) ?? [];
    assert.deepEqual(
      fixes.map((f) => [f.action, f.result]),
      [["start", "Interrupted"]],
      "one fix, counted once against the budget",
    );
    assert.deepEqual(await listRemediations(state), []);
  });
});
