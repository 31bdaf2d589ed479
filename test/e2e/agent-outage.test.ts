import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { containerState, docker } from "../../scripts/lib/cluster.js";
import { waitFor } from "../../scripts/lib/wait.js";
import type { AgentRemediation } from "../../src/api/remediation.js";
import { POLICY_AUTO_START } from "../support/agent-scenario.js";
import { writeManifest } from "../support/desired-states.js";
import {
  FakeMessagesServer,
  lastToolResults,
  toolUse,
  type FakeAnswer,
  type RecordedRequest,
} from "../support/fake-anthropic.js";
import { metric, metricSum } from "../support/metrics.js";
import { condition, getDesiredState, listRemediations } from "../support/status.js";
import { cli, StewardProcess, tempStateDir } from "../support/steward.js";

/**
 * The Anthropic API down and back, and a storm of drifts at once. Each describe has its own
 * containers (busybox `sleep` from the etcd image, selected by a label of their own, host
 * network, no ports), DesiredStates and fake Messages API, so the shared etcd cluster is
 * not touched.
 */
const LABEL = "steward.test/agent-outage";
const USAGE = { input_tokens: 100, output_tokens: 10, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };

async function runContainer(name: string, id: string): Promise<void> {
  await docker("rm", "-f", name).catch(() => "");
  await docker(
    "run",
    "-d",
    "--name",
    name,
    "--network",
    "host",
    "--label",
    `${LABEL}=${id}`,
    "--label",
    "steward.test=true",
    "--entrypoint",
    "/bin/sleep",
    "steward-demo/etcd:3.4",
    "3600",
  );
}

/** One DesiredState per container, every drift to the agent (no simple fixes), auto mode under a policy that allows `docker start`. */
function manifests(id: string, containers: readonly string[]): string {
  return [
    POLICY_AUTO_START,
    ...containers.map(
      (name) => `apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: ${name}}
spec:
  target: {docker: {selector: {${LABEL}: ${id}}}}
  interval: 2s
  services:
    - {name: ${name}}
  remediation:
    simpleFixes: []
    agent: {mode: auto, policyRef: test, maxAttempts: 2}
    cooldown: 0s
`,
    ),
  ].join("---\n");
}

/**
 * A model that fixes whatever container the incident names: `docker_start` it, then, once
 * the start's result is in, `resolve`. Any session, in any order.
 */
function fixingModel(id: string): (request: RecordedRequest) => FakeAnswer {
  return (request) => {
    const [result] = lastToolResults(request);
    if (result && !result.isError)
      return {
        content: [toolUse("resolve", { summary: `started ${result.text}` })],
        stop_reason: "tool_use",
        usage: USAGE,
      };
    const container = new RegExp(`container/(${id}-[a-z])`).exec(JSON.stringify(request.body?.messages[0]))?.[1];
    if (!container) throw new Error("the incident names no container of this test");
    return { content: [toolUse("docker_start", { container })], stop_reason: "tool_use", usage: USAGE };
  };
}

/** When a remediation waiting for the API says it tries again ("next try at …", whole seconds), as epoch ms; 0 if it does not. */
function nextTryAt(remediation: AgentRemediation): number {
  const at = /next try at (\S+?)\)/.exec(remediation.status?.message ?? "")?.[1];
  return at === undefined ? 0 : Date.parse(at);
}

const OVERLOADED: FakeAnswer = { status: 529, headers: { "retry-after-ms": "50" }, message: "Overloaded" };

async function startSteward(state: string, baseURL: string, args: string[]): Promise<StewardProcess> {
  const steward = new StewardProcess(state, ["--verify-timeout", "3s", ...args], {
    ANTHROPIC_API_KEY: "test-key-not-secret",
    ANTHROPIC_BASE_URL: baseURL,
  });
  await steward.start();
  return steward;
}

async function apply(state: string, text: string): Promise<void> {
  const applied = await cli(state, "apply", "-f", await writeManifest(state, "manifests.yaml", text));
  assert.equal(applied.code, 0, applied.stderr);
}

describe("a storm of drifts while the Anthropic API is overloaded", () => {
  const id = `ao${randomBytes(3).toString("hex")}`;
  const containers = ["a", "b", "c"].map((s) => `${id}-${s}`);
  let healthy = false;
  const model = fixingModel(id);
  // Every request is answered by one function, whatever the order of the sessions.
  const fake = new FakeMessagesServer(
    Array.from({ length: 300 }, () => (request: RecordedRequest) => (healthy ? model(request) : OVERLOADED)),
  );
  let steward: StewardProcess | undefined;

  after(async () => {
    await steward?.stop();
    await fake.close();
    await docker("rm", "-f", ...containers).catch(() => "");
  });

  it("openings are rate-limited, the breaker opens after repeated API failures, and a probe closes it once the API answers", async (t) => {
    const baseURL = await fake.start();
    for (const name of containers) await runContainer(name, id);
    const state = await tempStateDir();
    await apply(state, manifests(id, containers));
    steward = await startSteward(state, baseURL, [
      "--max-openings-per-minute",
      "2",
      "--breaker-threshold",
      "2",
      "--breaker-open-for",
      "40s",
      "--max-sessions",
      "2",
    ]);
    const s = steward;
    await waitFor(
      async () =>
        (await Promise.all(containers.map(async (c) => condition(await getDesiredState(state, c), "Ready")))).every(
          (r) => r === "True/AsDeclared",
        ),
      30_000,
      "every DesiredState Ready",
    );

    const t0 = Date.now();
    await docker("kill", ...containers);

    // Two openings a minute: two remediations at once; the third drift waits, and says so.
    const deferred = await waitFor(
      async () => {
        for (const name of containers) {
          const ds = await getDesiredState(state, name);
          if (condition(ds, "Remediating") === "False/RateLimited") return ds;
        }
        return undefined;
      },
      15_000,
      "a DesiredState whose opening waits for the rate limit",
    );
    const waiting = deferred?.status?.conditions.find((c) => c.type === "Remediating");
    assert.match(
      waiting?.message ?? "",
      /waits: at most 2 remediations are opened a minute \(--max-openings-per-minute\); next try at /,
    );
    assert.equal((await listRemediations(state)).length, 2);
    assert.ok(((await metric(s, "steward_remediation_openings_deferred_total")) ?? 0) >= 1);

    // Both sessions fail on 529 after the SDK's retries: the breaker opens; neither is escalated.
    await waitFor(
      async () => (await metric(s, "steward_agent_circuit_state", '{state="open"}')) === 1,
      30_000,
      "the breaker to open",
    );
    t.diagnostic(`breaker opened ${Date.now() - t0} ms after the drifts`);
    assert.equal(await metric(s, "steward_agent_circuit_opened_total"), 1);
    assert.equal(await metric(s, "steward_agent_api_errors_total"), 2);
    // Each says why it waits: ModelUnavailable, then (looked at again while the breaker is open) CircuitOpen.
    for (const r of await listRemediations(state)) {
      assert.equal(r.status?.phase, "Investigating");
      assert.ok(["ModelUnavailable", "CircuitOpen"].includes(r.status?.reason ?? ""), `reason ${r.status?.reason}`);
      assert.match(r.status?.message ?? "", /the Messages API is unavailable: 529/);
    }
    assert.equal(await metricSum(s, "steward_reconcile_errors_total"), 0, "an outage is not a reconcile error");

    // The third opens when its token is due (30 s at 2 a minute) and waits for the breaker.
    const third = await waitFor(
      async () =>
        (await listRemediations(state)).find((r) => r.status?.phase === "Pending" && r.status.reason === "CircuitOpen"),
      45_000,
      "the third remediation Pending with reason CircuitOpen",
    );
    t.diagnostic(`third remediation opened ${Date.now() - t0} ms after the drifts`);
    assert.equal(third.status?.phase, "Pending");
    assert.match(
      third.status?.message ?? "",
      /circuit breaker is open after repeated failures \(last: the Messages API is unavailable: 529.*\); no session starts before /,
    );
    assert.ok(((await metric(s, "steward_agent_sessions_deferred_total", '{reason="CircuitOpen"}')) ?? 0) >= 1);
    assert.equal(
      await metric(s, "steward_agent_circuit_state", '{state="open"}'),
      1,
      "still open: the API was not called again",
    );
    const requestsWhileOpen = fake.requests.length;

    // The API answers again: after the open period one probe session runs; its success closes the breaker, the rest follow.
    healthy = true;
    await waitFor(
      async () => (await metric(s, "steward_agent_circuit_state", '{state="closed"}')) === 1,
      45_000,
      "the breaker to close after the probe",
    );
    t.diagnostic(`breaker closed ${Date.now() - t0} ms after the drifts`);
    const resolved = await waitFor(
      async () => {
        const list = await listRemediations(state);
        return list.length === 3 && list.every((r) => r.status?.phase === "Resolved") ? list : undefined;
      },
      40_000,
      "all three remediations Resolved",
    );
    t.diagnostic(`all resolved ${Date.now() - t0} ms after the drifts`);
    for (const c of containers) assert.equal(await containerState(c), "running");
    assert.equal(requestsWhileOpen, 6, "two sessions × three attempts (the SDK's two retries), nothing while open");
    assert.equal(
      await metric(s, "steward_agent_circuit_opened_total"),
      1,
      "the probe succeeded: it did not open again",
    );
    assert.equal(await metric(s, "steward_agent_circuit_probes_total"), 1, "one probe session");
    assert.equal(await metric(s, "steward_agent_sessions_running"), 0);
    assert.ok(
      resolved.every((r: AgentRemediation) => r.status?.actions.length === 1),
      "each container started once",
    );
  });
});

describe("the Anthropic API stopped and started again", () => {
  const id = `ap${randomBytes(3).toString("hex")}`;
  const container = `${id}-a`;
  const fake = new FakeMessagesServer();
  let steward: StewardProcess | undefined;

  after(async () => {
    await steward?.stop();
    await fake.close();
    await docker("rm", "-f", container).catch(() => "");
  });

  it("the remediation says the API is unavailable, backs off, and resolves by itself once it answers", async (t) => {
    const model = fixingModel(id);
    fake.enqueue(...Array.from({ length: 20 }, () => model));
    const baseURL = await fake.start();
    const port = Number(new URL(baseURL).port);
    await runContainer(container, id);
    const state = await tempStateDir();
    await apply(state, manifests(id, [container]));
    steward = await startSteward(state, baseURL, ["--breaker-threshold", "5"]);
    const s = steward;
    await waitFor(
      async () => condition(await getDesiredState(state, container), "Ready") === "True/AsDeclared",
      30_000,
      "Ready",
    );

    await fake.close();
    await docker("kill", container);
    const unavailable = await waitFor(
      async () => (await listRemediations(state)).find((r) => r.status?.reason === "ModelUnavailable"),
      30_000,
      "the remediation to say the API is unavailable",
    );
    assert.match(unavailable.status?.message ?? "", /the Messages API is unavailable: Connection error/);
    assert.equal(unavailable.status?.phase, "Investigating");
    assert.equal(await metric(s, "steward_agent_api_errors_total"), 1);
    // Backing off: the next attempt (the SDK's three tries) comes at the time the status names
    // (MODEL_RETRY: 5 to 10 s later), not in a tight loop; the one after that 5 to 20 s later.
    const firstRetryAt = nextTryAt(unavailable);
    await waitFor(
      async () => (await metric(s, "steward_agent_api_errors_total")) === 2,
      firstRetryAt - Date.now() + 15_000,
      "the second attempt to fail",
    );
    const secondFailedAt = Date.now();
    assert.ok(
      secondFailedAt >= firstRetryAt,
      `tried again ${firstRetryAt - secondFailedAt} ms before the time it named`,
    );
    const again = await waitFor(
      async () => (await listRemediations(state)).find((r) => nextTryAt(r) > firstRetryAt),
      10_000,
      "the status to name the next try",
    );
    // The time named is cut to whole seconds: up to 1 s earlier than the wait itself.
    const secondWait = nextTryAt(again) - secondFailedAt;
    assert.ok(
      secondWait >= 4_000 && secondWait <= 20_000,
      `the next try ${secondWait} ms after the second failure; MODEL_RETRY waits 5 s to 20 s on the second retry`,
    );
    assert.equal(await metric(s, "steward_agent_api_errors_total"), 2);
    assert.equal(await metricSum(s, "steward_reconcile_errors_total"), 0, "an outage is not a reconcile error");
    assert.equal(await metricSum(s, "steward_agent_session_runs_total"), 0, "an outage ends no session");

    await fake.start(port);
    const back = Date.now();
    const resolved = await waitFor(
      async () => (await listRemediations(state)).find((r) => r.status?.phase === "Resolved"),
      30_000,
      "Resolved after the API came back",
    );
    t.diagnostic(`resolved ${Date.now() - back} ms after the API came back`);
    assert.equal(await containerState(container), "running");
    assert.equal(resolved.status?.attempts.length, 1, "the same session went on; it was never escalated");
    assert.equal((await listRemediations(state)).length, 1);
  });
});
