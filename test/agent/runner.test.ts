/**
 * AgentRunner in this process, against the real dockerd (a busybox container of its own,
 * observed by the real Docker observer and started by the real actions), the scripted fake
 * Messages API, a file store holding the remediation and its owner's status writer. What
 * ran is counted on Docker's own event stream.
 */
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import type Dockerode from "dockerode";
import { APPROVE, APPROVED_BY } from "../../src/api/approvals.js";
import type { DesiredState } from "../../src/api/desired-state.js";
import { DockerodeActions } from "../../src/act/docker.js";
import { verifyAuditFile } from "../../src/agent/audit.js";
import { ProgramPaths } from "../../src/agent/programs.js";
import { AgentRunner } from "../../src/agent/runner.js";
import { SessionFiles } from "../../src/agent/session-store.js";
import type { SessionState } from "../../src/agent/session.js";
import { DockerEventObserver } from "../../src/observe/docker/observer.js";
import { SystemObserver } from "../../src/reconcile/observation.js";
import type { SessionOutcome } from "../../src/reconcile/session-runner.js";
import { silentLogger } from "../../src/telemetry/logging.js";
import { StewardMetrics } from "../../src/telemetry/metrics.js";
import { waitFor } from "../../scripts/lib/wait.js";
import { DockerFixture, recordingLogger } from "../observe/docker/docker-fixture.js";
import {
  FakeMessagesServer,
  lastToolResults,
  text,
  toolTurns,
  toolUse,
  type ScriptStep,
} from "../support/fake-anthropic.js";
import {
  desiredState,
  MODEL,
  modelClient,
  policy,
  remediation,
  storedRemediation,
} from "../support/in-process-agent.js";

const USAGE = { input_tokens: 1_200, output_tokens: 150, cache_read_input_tokens: 900, cache_creation_input_tokens: 0 };
const turn = toolTurns(USAGE);
const fixture = new DockerFixture("runner");
const SELECTOR = { "steward.test.suite": "runner" };
const ALLOW_START = [{ decision: "allow" as const, command: "docker start *" }];

let observer: DockerEventObserver;
let container: Dockerode.Container;
let name: string;
/** The programs the shell tool may run, found once as Steward does at start. */
let programs: ProgramPaths;

/** How often Docker started the container since `since` (unix seconds), by Docker's own event stream. */
async function starts(since: number): Promise<number> {
  const stream = await fixture.docker.getEvents({
    since,
    until: Math.ceil(Date.now() / 1000) + 1,
    filters: { container: [name], event: ["start"] },
  });
  let count = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>)
    count += chunk.toString("utf8").split("\n").filter(Boolean).length;
  return count;
}

async function stopped(): Promise<number> {
  await container.kill();
  await waitFor(
    () => observer.containers().find((c) => c.name === name)?.state === "exited",
    5_000,
    `${name} seen exited`,
  );
  return Date.now() / 1000;
}

/** One run of the runner over the remediation as stored, as one reconcile of its owner would. */
async function run(
  runner: AgentRunner,
  held: Awaited<ReturnType<typeof storedRemediation>>,
  input: { desiredState: DesiredState; rules?: typeof ALLOW_START },
): Promise<SessionOutcome> {
  const current = await held.stored();
  return runner.run(current, input.desiredState, {
    policy: policy(input.rules ?? ALLOW_START),
    signal: new AbortController().signal,
    logger: silentLogger(),
    status: await held.writer(),
  });
}

/** Steward's agent: the real SDK, tools and observer, with its session files in `stateDir`. */
function agentRunner(fake: FakeMessagesServer, stateDir: string, metrics = new StewardMetrics()): AgentRunner {
  return new AgentRunner({
    files: new SessionFiles(stateDir),
    client: modelClient(fake),
    provider: "anthropic",
    model: MODEL,
    maxTokens: 1_024,
    tools: {
      docker: {
        client: fixture.docker,
        containers: () => observer.containers(),
        actions: new DockerodeActions(fixture.docker),
      },
      prometheus: undefined,
    },
    observer: new SystemObserver({ docker: observer }),
    verifyTimeoutMs: 10_000,
    metrics,
    programs,
  });
}

describe("AgentRunner against the real dockerd and the scripted Messages API", () => {
  let fake: FakeMessagesServer | undefined;

  before(async () => {
    programs = await ProgramPaths.scan();
    await fixture.setUp();
    container = await fixture.run("web", { Cmd: ["sleep", "300"] });
    name = fixture.name("web");
    observer = new DockerEventObserver({ docker: fixture.docker, logger: recordingLogger() });
    await observer.start();
  });
  after(async () => {
    await observer?.close();
    await fixture.tearDown();
  });
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
    await container.start().catch(() => undefined);
  });

  async function startFake(script: ScriptStep[]): Promise<FakeMessagesServer> {
    fake = new FakeMessagesServer(script);
    await fake.start();
    return fake;
  }

  it("auto mode: starts the stopped container once, verifies, and closes the remediation Resolved with its audit head", async () => {
    const since = await stopped();
    const model = await startFake([
      turn(text("Listing the containers."), toolUse("docker_ps", { all: true })),
      (request) => {
        assert.match(lastToolResults(request)[0]?.text ?? "", new RegExp(`${name}\\s+exited`));
        return turn(toolUse("docker_start", { container: name }, "toolu_start"));
      },
      turn(toolUse("resolve", { summary: `started ${name}` })),
    ]);
    const held = await storedRemediation(remediation("auto", name));
    const metrics = new StewardMetrics();
    const stateDir = await mkdtemp(join(tmpdir(), "steward-runner-"));
    const ds = desiredState(SELECTOR, [name]);

    const outcome = await run(agentRunner(model, stateDir, metrics), held, { desiredState: ds });

    assert.deepEqual(outcome, { type: "resolved", summary: `started ${name}` });
    assert.equal(await starts(since), 1, "Docker started it exactly once");
    const { status, metadata } = await held.stored();
    assert.equal(status?.phase, "Resolved");
    assert.equal(status?.reason, "Verified");
    assert.ok(status?.closedAt && status.verifiedAt);
    assert.match(status?.sessionId ?? "", /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-[0-9a-f]{8}$/);
    assert.deepEqual(
      status?.actions.map((a) => [a.id, a.command.join(" "), a.decision, a.state, a.exitCode]),
      [["toolu_start", `docker start ${name}`, "allow", "Finished", 0]],
    );
    assert.equal(status?.usage?.inputTokens, 3 * 1_200);
    const audit = await verifyAuditFile(new SessionFiles(stateDir).auditPath(metadata.namespace, metadata.name), {
      expected: status?.auditHead,
    });
    assert.ok(audit.ok, JSON.stringify(audit));
    assert.equal(audit.ok && audit.head, status?.auditHead?.hash, "the status anchors the audit trail's last line");
    assert.deepEqual(held.events.reasons(), [
      "Investigating",
      "Remediating",
      "ActionExecuted",
      "Investigating",
      "Verifying",
      "Resolved",
    ]);
    const runs = await metrics.registry.getSingleMetricAsString("steward_agent_session_runs_total");
    assert.match(runs, /steward_agent_session_runs_total\{outcome="resolved"\} 1/);
    assert.match(
      await metrics.registry.getSingleMetricAsString("steward_agent_tokens_total"),
      /steward_agent_tokens_total\{type="input"\} 3600/,
    );
  });

  it("approve mode across a restart: waits with nothing run; approved, a new runner resumes the saved conversation and runs the start once", async () => {
    const since = await stopped();
    const model = await startFake([
      turn(toolUse("docker_start", { container: name }, "toolu_start")),
      (request) => {
        assert.deepEqual(
          lastToolResults(request).map((r) => [r.toolUseId, r.isError]),
          [["toolu_start", false]],
        );
        return turn(toolUse("resolve", { summary: "approved and started" }));
      },
    ]);
    const held = await storedRemediation(remediation("approve", name));
    const stateDir = await mkdtemp(join(tmpdir(), "steward-runner-"));
    const ds = desiredState(SELECTOR, [name]);

    const waiting = await run(agentRunner(model, stateDir), held, { desiredState: ds });
    assert.equal(waiting.type, "awaitingApproval");
    assert.equal(await starts(since), 0, "nothing ran before the approval");
    assert.equal((await held.stored()).status?.phase, "AwaitingApproval");
    assert.equal(model.requests.length, 1);

    await held.store.annotate("AgentRemediation", (await held.stored()).metadata, {
      [APPROVE]: "toolu_start",
      [APPROVED_BY]: "alice",
    });
    const done = await run(agentRunner(model, stateDir), held, { desiredState: ds });

    assert.deepEqual(done, { type: "resolved", summary: "approved and started" });
    assert.equal(await starts(since), 1, "Docker started it exactly once");
    const { status } = await held.stored();
    assert.deepEqual(
      status?.actions.map((a) => [a.decision, a.approver, a.state, a.exitCode]),
      [["ask", "alice", "Finished", 0]],
    );
    const [first, second] = model.requests;
    assert.equal(model.requests.length, 2);
    assert.deepEqual(
      textOf(second?.body?.messages[0]),
      textOf(first?.body?.messages[0]),
      "the conversation went on from where it stopped",
    );
    assert.match(JSON.stringify(second?.body?.messages[1]), /"id":"toolu_start"/);
  });

  it("a change a stopped Steward left Started is not run again: the model is told its outcome is unknown", async () => {
    const since = await stopped();
    const sessionId = "2026-11-24T10-00-00-0badcafe";
    const startedAt = new Date().toISOString();
    const object = remediation("auto", name, {
      status: {
        phase: "Remediating",
        sessionId,
        attempts: [{ number: 1, startedAt }],
        actions: [
          {
            id: "toolu_start",
            tool: "docker_start",
            command: ["docker", "start", name],
            decision: "allow",
            time: startedAt,
            state: "Started",
          },
        ],
      },
    });
    const stateDir = await mkdtemp(join(tmpdir(), "steward-runner-"));
    await new SessionFiles(stateDir).save("default", object.metadata.name, savedWithPendingStart(sessionId));
    const model = await startFake([
      (request) => {
        const [result] = lastToolResults(request);
        assert.equal(result?.toolUseId, "toolu_start");
        assert.equal(result?.isError, true);
        assert.match(result?.text ?? "", /outcome is unknown, so it was not run again/);
        return turn(toolUse("escalate", { reason: "cannot tell whether it started" }));
      },
    ]);
    const held = await storedRemediation(object);

    const outcome = await run(agentRunner(model, stateDir), held, { desiredState: desiredState(SELECTOR, [name]) });

    assert.deepEqual(outcome, { type: "escalated", reason: "cannot tell whether it started" });
    assert.equal(await starts(since), 0, "not run again");
    const { status } = await held.stored();
    assert.equal(status?.phase, "Escalated");
    assert.deepEqual(
      status?.actions.map((a) => [a.id, a.state]),
      [["toolu_start", "Unknown"]],
    );
  });
});

/** The conversation a Steward saved just before it ran the start and stopped. */
function savedWithPendingStart(sessionId: string): SessionState {
  const use = { id: "toolu_start", name: "docker_start", input: { container: name } };
  return {
    sessionId,
    model: MODEL,
    attempt: 1,
    messages: [
      { role: "user", content: `Incident: container/${name} is exited, expected running.` },
      { role: "assistant", content: [{ type: "tool_use", ...use }] },
    ],
    pending: {
      toolUses: [use],
      results: [],
      decisions: { toolu_start: { decision: "allow", reason: 'matches allow rule "docker start *"', stage: "rule" } },
    },
    counters: {
      turns: 1,
      toolCalls: 1,
      mutations: 1,
      inputTokens: 1_200,
      outputTokens: 150,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      startedAtMs: Date.now(),
    },
    nudges: 0,
  };
}

/**
 * A message's text, whichever way it was sent: the last message of a request carries the
 * prompt-cache breakpoint, so the same message is a block list with cache_control there
 * and a plain string later.
 */
function textOf(message: { content: unknown } | undefined): string {
  const content = message?.content;
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((block: { text?: string }) => block.text ?? "").join("");
}
