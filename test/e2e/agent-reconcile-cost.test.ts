import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { docker, ensureCluster } from "../../scripts/lib/cluster.js";
import { waitFor } from "../../scripts/lib/wait.js";
import { etcdDesiredState, writeManifest } from "../support/desired-states.js";
import { FakeMessagesServer, toolUse, type ScriptStep } from "../support/fake-anthropic.js";
import { POLICY_AUTO_START } from "../support/agent-scenario.js";
import { listRemediations } from "../support/status.js";
import { cli, StewardProcess, tempStateDir } from "../support/steward.js";

const USAGE = { input_tokens: 1200, output_tokens: 150, cache_read_input_tokens: 900, cache_creation_input_tokens: 0 };
// Under the default policy's maxTurns (20), with the closing turn.
const TURNS = 15;

/** Sum of a counter over all its label sets, from a running Steward's /metrics. */
async function counter(steward: StewardProcess, name: string, labels = ""): Promise<number> {
  const text = await (
    await fetch(`http://${steward.metricsAddress}/metrics`, { signal: AbortSignal.timeout(2_000) })
  ).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) && l.includes(labels))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}

describe("what a model turn costs the controllers", () => {
  let steward: StewardProcess | undefined;
  let fake: FakeMessagesServer | undefined;

  before(ensureCluster);
  after(async () => {
    await steward?.stop();
    await fake?.close();
    await ensureCluster();
  });

  it(`regression: ${TURNS} read-only model turns cost no DesiredState reconcile (each used to cost one)`, async () => {
    let go: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (go = resolve));
    const turn: ScriptStep = { content: [toolUse("docker_ps", { all: true })], stop_reason: "tool_use", usage: USAGE };
    const script: ScriptStep[] = [
      async () => {
        await started;
        return turn;
      },
      ...Array.from({ length: TURNS - 1 }, () => turn),
      { content: [toolUse("escalate", { reason: "measured" })], stop_reason: "tool_use", usage: USAGE },
    ];
    fake = new FakeMessagesServer(script);
    const baseURL = await fake.start();
    const state = await tempStateDir();
    const manifests = [
      await writeManifest(state, "policy.yaml", POLICY_AUTO_START),
      await writeManifest(
        state,
        "ds.yaml",
        // A long interval: the periodic reconcile stays out of the count.
        etcdDesiredState({
          simpleFixes: [],
          interval: "10m",
          agent: { mode: "auto", policyRef: "test" },
          cooldown: "0s",
        }),
      ),
    ];
    const applied = await cli(state, "apply", ...manifests.flatMap((m) => ["-f", m]));
    assert.equal(applied.code, 0, applied.stderr);
    steward = new StewardProcess(state, [], { ANTHROPIC_API_KEY: "test-key-not-secret", ANTHROPIC_BASE_URL: baseURL });
    await steward.start();
    await docker("stop", "-t", "1", "etcd1");
    // The session has begun (Investigating) and its first model call waits for `go`.
    await waitFor(
      async () => (await listRemediations(state))[0]?.status?.phase === "Investigating" && fake?.requests.length === 1,
      30_000,
      "the session's first model call",
    );
    await waitFor(
      async () => (await counter(steward as StewardProcess, "steward_workqueue_depth")) === 0,
      10_000,
      "the queues drained",
    );
    const desiredBefore = await counter(steward, "steward_reconcile_total", 'controller="desiredstate"');
    const remediationBefore = await counter(steward, "steward_reconcile_total", 'controller="remediation"');
    const notifyBefore = await counter(steward, "steward_reconcile_total", 'controller="notify"');
    go();
    await waitFor(
      async () => (await listRemediations(state))[0]?.status?.phase === "Escalated",
      60_000,
      "the session escalated after its turns",
    );
    assert.equal(fake.requests.length, TURNS + 1);
    const remediation = (await listRemediations(state))[0];
    assert.equal(remediation?.status?.usage?.inputTokens, (TURNS + 1) * USAGE.input_tokens, "usage counted every turn");
    const desired = (await counter(steward, "steward_reconcile_total", 'controller="desiredstate"')) - desiredBefore;
    const owner = (await counter(steward, "steward_reconcile_total", 'controller="remediation"')) - remediationBefore;
    const notify = (await counter(steward, "steward_reconcile_total", 'controller="notify"')) - notifyBefore;
    console.log(
      `reconciles during ${TURNS + 1} model turns: ${desired} of the DesiredState, ${owner} of the remediation, ${notify} of the notifier`,
    );
    // The one the DesiredState gets: the remediation's phase changed to Escalated.
    assert.ok(desired <= 1, `${desired} DesiredState reconciles during the session`);
    // The remediation's: at most its own re-run after the session, and one for the close.
    assert.ok(owner <= 3, `${owner} remediation reconciles during the session`);
    // The notifier's: the Escalated record, and the ledger it writes for it; no turn costs one.
    assert.ok(notify <= 2, `${notify} notifier reconciles during the session`);
  });
});
