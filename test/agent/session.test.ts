/**
 * runSession in this process: the real SDK against the scripted fake Messages API, the
 * real policy engine and toolset, a real audit file, and the remediation's status written
 * by its owner's real writer into a file store. The changes the model asks for are real
 * commands run by the `shell` tool on files in a temp dir, so what ran, and when, is on disk.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { parse } from "yaml";
import type { Approval } from "../../src/api/approvals.js";
import type { RemediationPolicySpec } from "../../src/api/policy.js";
import type { AgentRemediation } from "../../src/api/remediation.js";
import { AuditLog, readAuditFile, verifyAuditFile } from "../../src/agent/audit.js";
import type { AgentScope } from "../../src/agent/ownership.js";
import { ProgramPaths } from "../../src/agent/programs.js";
import { runSession, type SessionContext, type SessionState } from "../../src/agent/session.js";
import { DOCKER_TOOLS } from "../../src/agent/toolsets.js";
import { ModelUnavailableError, type SessionOutcome } from "../../src/reconcile/session-runner.js";
import {
  FakeMessagesServer,
  lastToolResults,
  text,
  toolTurns,
  toolUse,
  type ScriptStep,
} from "../support/fake-anthropic.js";
import { MODEL, modelClient, policy, remediation, storedRemediation } from "../support/in-process-agent.js";

const USAGE = { input_tokens: 1_000, output_tokens: 100, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const turn = toolTurns(USAGE);
const CONTAINER = "web";
/** The shell tool works on files in a temp dir: no container is in reach. */
const NO_CONTAINERS: AgentScope = { target: "docker", objects: [], endpoints: [], secrets: [] };

type Verdict = { cleared: boolean; details: string };

interface Run {
  outcome: SessionOutcome;
  /** Every conversation the session saved, in order. */
  saved: SessionState[];
}

/** One session's world: its fake model, stored remediation, audit file and work dir. */
class Harness {
  readonly fake: FakeMessagesServer;
  readonly dir: string;
  readonly verdicts: Verdict[] = [];
  private constructor(
    fake: FakeMessagesServer,
    dir: string,
    readonly remediation: Awaited<ReturnType<typeof storedRemediation>>,
  ) {
    this.fake = fake;
    this.dir = dir;
  }

  static async start(object: AgentRemediation, script: ScriptStep[]): Promise<Harness> {
    const fake = new FakeMessagesServer(script);
    await fake.start();
    const dir = await mkdtemp(join(tmpdir(), "steward-session-"));
    return new Harness(fake, dir, await storedRemediation(object));
  }

  get auditPath(): string {
    return join(this.dir, "audit.jsonl");
  }

  /**
   * Runs the session from `state` as the runner would: the status through a writer over
   * what the store holds now, the audit file opened for this run and closed after.
   */
  async run(
    state: SessionState,
    options: { policy: RemediationPolicySpec; mode?: "auto" | "approve"; approval?: Approval; signal?: AbortSignal },
  ): Promise<Run> {
    const writer = await this.remediation.writer();
    const audit = await AuditLog.open(this.auditPath);
    const saved: SessionState[] = [];
    const ctx: SessionContext = {
      model: {
        client: modelClient(this.fake),
        provider: "anthropic",
        system: "You are Steward's remediation agent.",
        maxTokens: 1_024,
      },
      rules: {
        policy: options.policy,
        mode: options.mode ?? "auto",
        maxAttempts: (await this.remediation.stored()).spec.maxAttempts,
        approval: () => options.approval,
      },
      tools: {
        toolset: DOCKER_TOOLS,
        environment: {
          prometheus: undefined,
          timeoutMs: 5_000,
          outputCapBytes: 4_096,
          dryRun: false,
          scope: () => Promise.resolve(NO_CONTAINERS),
          programs: await ProgramPaths.scan(),
        },
      },
      records: {
        audit,
        status: writer,
        saveState: (s) => Promise.resolve(void saved.push(structuredClone(s))),
      },
      signal: options.signal ?? new AbortController().signal,
      verify: () => Promise.resolve(this.verdicts.shift() ?? { cleared: false, details: "no verdict scripted" }),
    };
    try {
      return { outcome: await runSession(state, ctx), saved };
    } finally {
      await audit.close();
    }
  }

  async auditKinds(): Promise<string[]> {
    return (await readAuditFile(this.auditPath)).map((e) => e.kind);
  }

  async close(): Promise<void> {
    await this.fake.close();
  }
}

/** A new conversation, as the runner begins one. */
function newState(): SessionState {
  return {
    sessionId: "2026-11-24T10-00-00-0badcafe",
    model: MODEL,
    attempt: 1,
    messages: [{ role: "user", content: `Incident: container/${CONTAINER} is exited, expected running.` }],
    counters: {
      turns: 0,
      toolCalls: 0,
      mutations: 0,
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      startedAtMs: Date.now(),
    },
    nudges: 0,
  };
}

/** The session the runner has started: Investigating, attempt 1. */
async function started(h: Harness): Promise<SessionState> {
  const state = newState();
  await (
    await h.remediation.writer()
  ).apply({
    type: "sessionStarted",
    sessionId: state.sessionId,
    message: "investigating",
    at: new Date().toISOString(),
  });
  return state;
}

describe("runSession: the tool-use loop against the scripted Messages API", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("a verified resolve ends it resolved; the status holds the usage and the verified attempt; the audit trail the turn", async () => {
    h = await Harness.start(remediation("auto", CONTAINER), [
      turn(text("The container exited; it is back now."), toolUse("resolve", { summary: "it is running again" })),
    ]);
    h.verdicts.push({ cleared: true, details: "the drift is gone" });
    const { outcome, saved } = await h.run(await started(h), { policy: policy() });

    assert.deepEqual(outcome, { type: "resolved", summary: "it is running again" });
    const { status } = await h.remediation.stored();
    assert.equal(status?.phase, "Verifying", "the runner, not the session, writes the closing phase");
    assert.equal(status?.attempts[0]?.outcome, "Verified");
    assert.equal(status?.summary, "it is running again");
    assert.ok(status?.verifiedAt);
    assert.equal(status?.usage?.inputTokens, 1_000);
    assert.equal(status?.usage?.outputTokens, 100);
    assert.ok((status?.usage?.estimatedCostUSD ?? 0) > 0);
    assert.deepEqual(await h.auditKinds(), ["model_usage", "reasoning", "tool_call", "phase_change", "verification"]);
    assert.equal((await verifyAuditFile(h.auditPath)).ok, true);
    assert.equal(saved.at(-1)?.messages.length, 2, "the conversation with the model's turn was saved");
    assert.equal(h.fake.requests.length, 1);
  });

  it("a resolve that does not verify: the model is told the drift is NOT gone, attempt 2 begins, and after maxAttempts it escalates", async () => {
    h = await Harness.start(remediation("auto", CONTAINER, { maxAttempts: 2 }), [
      turn(toolUse("resolve", { summary: "fixed" })),
      (request) => {
        const [result] = lastToolResults(request);
        assert.equal(result?.isError, true);
        assert.match(result?.text ?? "", /drift is NOT gone: web is still exited.*attempt 2 of 2/s);
        return turn(toolUse("resolve", { summary: "fixed now" }));
      },
    ]);
    h.verdicts.push(
      { cleared: false, details: "web is still exited" },
      { cleared: false, details: "web is still exited" },
    );
    const { outcome } = await h.run(await started(h), { policy: policy() });

    assert.equal(outcome.type, "escalated");
    assert.match(
      outcome.type === "escalated" ? outcome.reason : "",
      /did not verify after 2 attempts: web is still exited/,
    );
    const { status } = await h.remediation.stored();
    assert.deepEqual(
      status?.attempts.map((a) => [a.number, a.outcome]),
      [
        [1, "NotVerified: web is still exited"],
        [2, "NotVerified: web is still exited"],
      ],
    );
    assert.equal(status?.verifiedAt, undefined);
    assert.equal(h.fake.remaining, 0);
  });

  it("auto mode, an allowed change: its Started record is in the store before it runs, it runs once, and the model gets its result", async () => {
    const copy = join(await mkdtemp(join(tmpdir(), "steward-change-")), "status-when-it-ran.yaml");
    const object = remediation("auto", CONTAINER);
    const storedFile = (): string =>
      join(h?.remediation.store.dir ?? "", "remediations", "default", `${object.metadata.name}.yaml`);
    h = await Harness.start(object, [
      // The change copies the remediation's stored file: the copy is the status as it was when the change ran.
      () => turn(toolUse("shell", { argv: ["cp", storedFile(), copy] }, "toolu_cp")),
      (request) => {
        assert.deepEqual(
          lastToolResults(request).map((r) => [r.toolUseId, r.isError]),
          [["toolu_cp", false]],
        );
        return turn(toolUse("resolve", { summary: "copied" }));
      },
    ]);
    h.verdicts.push({ cleared: true, details: "gone" });
    const { outcome } = await h.run(await started(h), { policy: policy([{ decision: "allow", command: "cp *" }]) });

    assert.equal(outcome.type, "resolved");
    const atRun = parse(await readFile(copy, "utf8")) as AgentRemediation;
    assert.equal(atRun.status?.phase, "Remediating");
    assert.deepEqual(
      atRun.status?.actions.map((a) => [a.id, a.state]),
      [["toolu_cp", "Started"]],
      "the idempotency record was durable before the command ran",
    );
    const { status } = await h.remediation.stored();
    assert.deepEqual(
      status?.actions.map((a) => [a.id, a.command[0], a.decision, a.state, a.exitCode]),
      [["toolu_cp", "cp", "allow", "Finished", 0]],
    );
    const kinds = await h.auditKinds();
    assert.ok(
      kinds.indexOf("action") < kinds.indexOf("tool_result"),
      `the action line before the result: ${kinds.join(",")}`,
    );
    assert.equal(h.fake.requests.length, 2);
  });

  it("approve mode: the change waits for a person without running or asking the model again; approved, it runs once and the conversation goes on", async () => {
    const made = join(await mkdtemp(join(tmpdir(), "steward-change-")), "made");
    h = await Harness.start(remediation("approve", CONTAINER), [
      turn(text("Creating the directory."), toolUse("shell", { argv: ["mkdir", made] }, "toolu_mkdir")),
      (request) => {
        const [result] = lastToolResults(request);
        assert.equal(result?.toolUseId, "toolu_mkdir");
        assert.equal(result?.isError, false, result?.text);
        return turn(toolUse("resolve", { summary: "made it" }));
      },
    ]);
    const rules = policy([{ decision: "allow", command: "mkdir *" }]);
    const first = await h.run(await started(h), { policy: rules, mode: "approve" });

    assert.equal(first.outcome.type, "awaitingApproval");
    assert.equal(existsSync(made), false, "nothing ran before the approval");
    const waiting = await h.remediation.stored();
    assert.equal(waiting.status?.phase, "AwaitingApproval");
    assert.deepEqual(
      waiting.status?.pendingApproval.map((p) => [p.id, p.command.join(" ")]),
      [["toolu_mkdir", `mkdir ${made}`]],
    );
    assert.equal(h.fake.requests.length, 1);
    const resumeFrom = first.saved.at(-1);
    assert.ok(resumeFrom?.pending, "the conversation was saved with the call pending");

    h.verdicts.push({ cleared: true, details: "gone" });
    const second = await h.run(resumeFrom, {
      policy: rules,
      mode: "approve",
      approval: { approved: true, by: "alice" },
    });
    assert.equal(second.outcome.type, "resolved");
    assert.equal(existsSync(made), true);
    const { status } = await h.remediation.stored();
    assert.deepEqual(
      status?.actions.map((a) => [a.decision, a.approver, a.state, a.exitCode]),
      [["ask", "alice", "Finished", 0]],
    );
    assert.equal(h.fake.requests.length, 2, "one model call after the approval: the result of the approved call");
    assert.ok((await h.auditKinds()).includes("approval"));
  });

  it("a person's denial and the policy's are told to the model, and nothing runs", async () => {
    const work = await mkdtemp(join(tmpdir(), "steward-change-"));
    h = await Harness.start(remediation("approve", CONTAINER), [
      turn(
        toolUse("shell", { argv: ["mkdir", join(work, "asked")] }, "toolu_asked"),
        toolUse("shell", { argv: ["rm", "-r", work] }, "toolu_rm"),
      ),
      (request) => {
        assert.deepEqual(
          lastToolResults(request).map((r) => [r.toolUseId, r.isError, r.text]),
          [
            ["toolu_asked", true, "denied by bob: not now; do not retry this action"],
            ["toolu_rm", true, lastToolResults(request)[1]?.text ?? ""],
          ],
        );
        assert.match(lastToolResults(request)[1]?.text ?? "", /^denied by policy: no policy rule matches "rm -r /);
        return turn(toolUse("escalate", { reason: "not allowed" }));
      },
    ]);
    const rules = policy([{ decision: "allow", command: "mkdir *" }]);
    const first = await h.run(await started(h), { policy: rules, mode: "approve" });
    assert.equal(first.outcome.type, "awaitingApproval");
    const second = await h.run(first.saved.at(-1) ?? assert.fail("no saved state"), {
      policy: rules,
      mode: "approve",
      approval: { approved: false, by: "bob", reason: "not now" },
    });

    assert.deepEqual(second.outcome, { type: "escalated", reason: "not allowed" });
    assert.equal(existsSync(join(work, "asked")), false);
    assert.equal(existsSync(work), true, "the denied rm did not run");
    const { status } = await h.remediation.stored();
    assert.deepEqual(
      status?.actions.map((a) => [a.id, a.decision, a.approver]),
      [
        ["toolu_asked", "deny", "bob"],
        ["toolu_rm", "deny", undefined],
      ],
    );
  });

  it("budget maxTurns: escalates naming the budget, without another model call", async () => {
    const ps = (): ScriptStep => turn(toolUse("docker_ps", {}));
    h = await Harness.start(remediation("auto", CONTAINER), [ps(), ps(), ps()]);
    const { outcome } = await h.run(await started(h), { policy: policy([], { maxTurns: 2 }) });

    assert.equal(outcome.type, "escalated");
    assert.match(outcome.type === "escalated" ? outcome.reason : "", /^budget maxTurns reached/);
    assert.equal(h.fake.requests.length, 2);
    assert.equal(h.fake.remaining, 1);
  });

  it("the API overloaded (after the SDK's retries): ModelUnavailableError with the conversation saved; the next run sends it again and goes on", async () => {
    h = await Harness.start(remediation("auto", CONTAINER), [
      { status: 529, message: "Overloaded" },
      turn(toolUse("escalate", { reason: "done" })),
    ]);
    const state = await started(h);
    const failed = h.run(state, { policy: policy() });
    await assert.rejects(failed, (err: unknown) => {
      assert.ok(err instanceof ModelUnavailableError, String(err));
      assert.match(err.message, /the Messages API is unavailable: 529/);
      return true;
    });
    assert.equal((await h.remediation.stored()).status?.phase, "Investigating", "not escalated");
    assert.ok((await h.auditKinds()).includes("session"), "the outage is in the audit trail");

    const { outcome } = await h.run(state, { policy: policy() });
    assert.deepEqual(outcome, { type: "escalated", reason: "done" });
    const [before, after] = h.fake.requests;
    assert.deepEqual(after?.body?.messages, before?.body?.messages, "the same conversation was sent again");
  });

  it("shutdown while the model answers: the run stops with the abort, neither escalated nor resolved", async () => {
    const stop = new AbortController();
    h = await Harness.start(remediation("auto", CONTAINER), [
      () => {
        stop.abort(new Error("Steward is shutting down"));
        return turn(toolUse("resolve", { summary: "too late" }));
      },
    ]);
    await assert.rejects(h.run(await started(h), { policy: policy(), signal: stop.signal }));
    const { status } = await h.remediation.stored();
    assert.equal(status?.phase, "Investigating");
    assert.equal(status?.summary, undefined);
    assert.ok(!(await h.auditKinds()).includes("verification"));
  });
});
