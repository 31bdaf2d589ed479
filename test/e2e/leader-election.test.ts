import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { CoreV1Api } from "@kubernetes/client-node";
import type { AgentRemediation } from "../../src/api/remediation.js";
import { containerState, docker } from "../../scripts/lib/cluster.js";
import { waitFor } from "../../scripts/lib/wait.js";
import { writeManifest } from "../support/desired-states.js";
import { FakeMessagesServer, lastToolResults, toolUse, type RecordedRequest } from "../support/fake-anthropic.js";
import { cluster } from "../support/kube.js";
import { kubectl, kubectlOk } from "../support/kubectl.js";
import { metric, metricSum } from "../support/metrics.js";
import { StewardProcess, tempStateDir } from "../support/steward.js";

/**
 * Two `steward --store kubernetes run` replicas on one Lease. Everything is private to this
 * file: its own namespace (each replica watches only it), Lease, containers (busybox from
 * the etcd image, selected by a label of their own, host network, no ports) and fake model,
 * so that it neither disturbs nor is disturbed by the shared etcd cluster's tests.
 */
const ID = `le${randomBytes(3).toString("hex")}`;
const NS = `steward-${ID}`;
const LABEL = "steward.test/leader-election";
const FIX_CONTAINER = `${ID}-a`;
const AGENT_CONTAINER = `${ID}-b`;
const START_CALL = "toolu_le_start_b";
/** Lease duration (15 s) + up to 2.2 retry periods of jitter (4.4 s) + slack for a loaded machine. */
const FAILOVER_TIMEOUT_MS = 30_000;
const USAGE = { input_tokens: 100, output_tokens: 10, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };

const MANIFESTS = `apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: fix, namespace: ${NS}}
spec:
  target: {docker: {selector: {${LABEL}: ${ID}}}}
  interval: 2s
  services:
    # Four fixes in this file: more than the default budget (3 in 10m), which would open a remediation.
    - {name: ${FIX_CONTAINER}, restartBudget: {max: 10, window: 10m}}
  remediation:
    simpleFixes: [start]
    agent: {mode: approve}
---
apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: agent, namespace: ${NS}}
spec:
  target: {docker: {selector: {${LABEL}: ${ID}}}}
  interval: 2s
  services:
    - {name: ${AGENT_CONTAINER}}
  remediation:
    simpleFixes: []
    agent: {mode: approve, policyRef: default, maxAttempts: 2}
    cooldown: 0s
`;

async function runContainer(name: string): Promise<void> {
  await docker("rm", "-f", name).catch(() => "");
  await docker(
    "run",
    "-d",
    "--name",
    name,
    "--network",
    "host",
    "--label",
    `${LABEL}=${ID}`,
    "--label",
    "steward.test=true",
    "--entrypoint",
    "/bin/sleep",
    "steward-demo/etcd:3.4",
    "3600",
  );
}

const startsFixed = (s: StewardProcess): Promise<number | undefined> =>
  metric(s, "steward_simple_fixes_total", '{action="start",result="Succeeded"}');

async function remediations(): Promise<AgentRemediation[]> {
  return (JSON.parse(await kubectlOk("get", "remediations", "-n", NS, "-o", "json")) as { items: AgentRemediation[] })
    .items;
}

async function leaseHolder(): Promise<string> {
  return (await kubectl("get", "lease", ID, "-n", NS, "-o", "jsonpath={.spec.holderIdentity}")).stdout;
}

/** How often the Lease changed hands (its spec.leaseTransitions). */
async function leaseTransitions(): Promise<number> {
  return Number((await kubectlOk("get", "lease", ID, "-n", NS, "-o", "jsonpath={.spec.leaseTransitions}")) || "0");
}

/**
 * A replica that stands by: Ready, not leading, while the Lease names a holder (another
 * replica: only one leads). What it did is checked by the tests: it acts on nothing.
 */
async function standsBy(steward: StewardProcess): Promise<boolean> {
  return (
    (await metric(steward, "steward_leader")) === 0 &&
    (await leaseHolder()) !== "" &&
    (await fetch(`http://${steward.metricsAddress}/readyz`)).status === 200
  );
}

/** Docker's own record of how often a container was started since `since` (unix seconds). */
async function startsSince(container: string, since: number): Promise<number> {
  const out = await docker(
    "events",
    "--since",
    String(since),
    "--until",
    String(Math.ceil(Date.now() / 1000) + 1),
    "--filter",
    `container=${container}`,
    "--filter",
    "event=start",
    "--format",
    "{{.Status}}",
  );
  return out.split("\n").filter(Boolean).length;
}

function alive(steward: StewardProcess): boolean {
  try {
    process.kill(steward.pid(), 0);
    return true;
  } catch {
    return false;
  }
}

describe("two steward replicas on one Lease (kubernetes store)", () => {
  const replicas: StewardProcess[] = [];
  let fake: FakeMessagesServer;
  let leader: StewardProcess;
  let standby: StewardProcess;
  let handoverRequest: RecordedRequest | undefined;

  function replica(baseURL: string): Promise<StewardProcess> {
    return tempStateDir().then((state) => {
      const steward = new StewardProcess(
        state,
        ["--lease-name", ID, "--lease-namespace", NS, "--watch-namespace", NS, "--verify-timeout", "3s"],
        { STEWARD_STORE: "kubernetes", ANTHROPIC_API_KEY: "test-key-not-secret", ANTHROPIC_BASE_URL: baseURL },
      );
      replicas.push(steward);
      return steward;
    });
  }

  before(async () => {
    await cluster();
    await kubectlOk("create", "namespace", NS);
    await runContainer(FIX_CONTAINER);
    await runContainer(AGENT_CONTAINER);
    fake = new FakeMessagesServer([
      // The first leader's session: it asks to start the stopped container (approve mode: a person must approve).
      {
        content: [toolUse("docker_start", { container: AGENT_CONTAINER }, START_CALL)],
        stop_reason: "tool_use",
        usage: USAGE,
      },
      // The next leader's session, after the approval: it sees the result of the approved call and resolves.
      (request) => {
        handoverRequest = request;
        return {
          content: [toolUse("resolve", { summary: `started ${AGENT_CONTAINER}` })],
          stop_reason: "tool_use",
          usage: USAGE,
        };
      },
    ]);
    const baseURL = await fake.start();
    const state = await tempStateDir();
    await kubectlOk("apply", "-f", await writeManifest(state, "desired-states.yaml", MANIFESTS));
    const [a, b] = await Promise.all([replica(baseURL), replica(baseURL)]);
    await Promise.all([a.start(), b.start()]);
  });

  after(async () => {
    for (const steward of replicas.filter(alive)) {
      process.kill(steward.pid(), "SIGCONT");
      await steward.stop();
    }
    await fake?.close();
    await docker("rm", "-f", FIX_CONTAINER, AGENT_CONTAINER).catch(() => "");
    await kubectl("delete", "desiredstates,remediations,leases", "--all", "-n", NS, "--wait=false");
    await kubectl("delete", "namespace", NS, "--wait=false");
    // The test control plane runs no namespace controller: finalize the emptied namespace as it would.
    const core = (await cluster()).makeApiClient(CoreV1Api);
    await core
      .replaceNamespaceFinalize({ name: NS, body: { metadata: { name: NS }, spec: { finalizers: [] } } })
      .catch(() => undefined);
  });

  it("exactly one replica leads; the other stands by, Ready, and acts on nothing", async () => {
    const [a, b] = replicas as [StewardProcess, StewardProcess];
    await waitFor(
      async () => (await metric(a, "steward_leader")) === 1 || (await metric(b, "steward_leader")) === 1,
      20_000,
      "one replica to lead",
    );
    [leader, standby] = (await metric(a, "steward_leader")) === 1 ? [a, b] : [b, a];
    assert.equal(await metric(standby, "steward_leader"), 0);
    await waitFor(() => standsBy(standby), 10_000, "the other replica to stand by, Ready");
    assert.equal((await fetch(`http://${standby.metricsAddress}/healthz`)).status, 200);

    await waitFor(
      async () => {
        const ready = (
          await kubectl(
            "get",
            "desiredstate",
            "fix",
            "-n",
            NS,
            "-o",
            'jsonpath={.status.conditions[?(@.type=="Ready")]}',
          )
        ).stdout;
        if (!ready.includes('"status":"True"')) throw new Error(`Ready is ${ready || "not set"}`);
        return true;
      },
      30_000,
      "fix Ready",
    );
    await docker("kill", FIX_CONTAINER);
    await waitFor(
      async () => (await containerState(FIX_CONTAINER)) === "running",
      20_000,
      `${FIX_CONTAINER} started again`,
    );
    await waitFor(async () => (await startsFixed(leader)) === 1, 5_000, "the leader's fix in its metrics");
    assert.equal(await startsFixed(standby), 0, "the standby fixed nothing");
    assert.equal(await metricSum(standby, "steward_reconcile_total"), 0, "the standby reconciled nothing");
    assert.equal(await metric(leader, "steward_leader"), 1);
  });

  it("the leader's agent session waits for approval of a start", async () => {
    await docker("kill", AGENT_CONTAINER);
    const remediation = await waitFor(
      async () => (await remediations()).find((r) => r.status?.phase === "AwaitingApproval"),
      30_000,
      "a remediation awaiting approval",
    );
    assert.deepEqual(
      remediation.status?.pendingApproval.map((p) => p.id),
      [START_CALL],
    );
    assert.equal(await containerState(AGENT_CONTAINER), "exited");
  });

  it("kill -9 of the leader: the standby takes over within the lease duration and acts", async (t) => {
    const holderBefore = await leaseHolder();
    const transitionsBefore = await leaseTransitions();
    const killedAt = Date.now();
    process.kill(leader.pid(), "SIGKILL");
    await waitFor(
      async () => (await metric(standby, "steward_leader")) === 1,
      FAILOVER_TIMEOUT_MS,
      "the standby to take over",
    );
    t.diagnostic(`failover: the standby led ${Date.now() - killedAt} ms after kill -9 of the leader`);
    [leader, standby] = [standby, leader];
    assert.notEqual(await leaseHolder(), holderBefore, "the Lease names the new leader");
    assert.equal(await leaseTransitions(), transitionsBefore + 1, "taken over from the previous holder");

    await docker("kill", FIX_CONTAINER);
    await waitFor(
      async () => (await containerState(FIX_CONTAINER)) === "running",
      20_000,
      `${FIX_CONTAINER} started by the new leader`,
    );
    await waitFor(async () => (await startsFixed(leader)) === 1, 5_000, "the new leader's fix in its metrics");
  });

  it("approved after the failover, the start the old leader asked for runs exactly once; one remediation", async () => {
    const [before] = await remediations();
    assert.ok(before);
    assert.equal(
      before.status?.phase,
      "AwaitingApproval",
      "the new leader did not touch a remediation nobody has decided on",
    );
    const since = Math.floor(Date.parse(before.status?.openedAt ?? "") / 1000);
    const name = before.metadata.name;
    await kubectlOk(
      "annotate",
      "remediation",
      name,
      "-n",
      NS,
      `steward.dev/approve=${START_CALL}`,
      "steward.dev/approved-by=dana",
    );
    const resolved = await waitFor(
      async () => (await remediations()).find((r) => r.status?.phase === "Resolved"),
      30_000,
      "Resolved",
    );

    assert.equal(await containerState(AGENT_CONTAINER), "running");
    assert.equal(await startsSince(AGENT_CONTAINER, since), 1, "Docker saw exactly one start");
    assert.deepEqual(
      resolved.status?.actions.map((a) => `${a.id} ${a.command.join(" ")} ${a.decision} ${a.approver} ${a.exitCode}`),
      [`${START_CALL} docker start ${AGENT_CONTAINER} ask dana 0`],
    );
    assert.equal((await remediations()).length, 1);
    assert.notEqual(resolved.status?.sessionId, before.status?.sessionId, "a handover starts a new session id");
    // The new leader's model saw what was done: the note, and the approved call's result.
    assert.ok(handoverRequest);
    assert.match(JSON.stringify(handoverRequest.body?.messages[0]), /another Steward replica, which stopped/);
    assert.deepEqual(
      lastToolResults(handoverRequest).map((r) => `${r.toolUseId} ${r.isError}`),
      [`${START_CALL} false`],
    );
    assert.equal(fake.remaining, 0);
  });

  it("a leader that could not renew (stopped past the lease) stops acting when it wakes and stays up as a standby; a third replica took over", async () => {
    const third = await replica(fake.baseURL);
    await third.start();
    await waitFor(() => standsBy(third), 10_000, "the third replica to stand by");
    process.kill(leader.pid(), "SIGSTOP");
    await waitFor(
      async () => (await metric(third, "steward_leader")) === 1,
      FAILOVER_TIMEOUT_MS,
      "the third replica to take over",
    );
    process.kill(leader.pid(), "SIGCONT");
    await waitFor(
      async () => (await metric(leader, "steward_leadership_lost_total")) === 1,
      10_000,
      "the old leader to step down",
    );
    assert.ok(alive(leader), "it did not exit");
    assert.equal(await metric(leader, "steward_leader"), 0);
    assert.equal(
      (await fetch(`http://${leader.metricsAddress}/readyz`)).status,
      200,
      "a replica that stepped down is Ready",
    );

    // Only the new leader acts: the one that stepped down fixes nothing.
    const fixedBefore = await startsFixed(leader);
    await docker("kill", FIX_CONTAINER);
    await waitFor(
      async () => (await containerState(FIX_CONTAINER)) === "running",
      20_000,
      `${FIX_CONTAINER} started by the third replica`,
    );
    await waitFor(async () => (await startsFixed(third)) === 1, 5_000, "the third replica's fix in its metrics");
    assert.equal(await startsFixed(leader), fixedBefore, "the replica that stepped down fixed nothing");
    [leader, standby] = [third, leader];
  });

  it("the replica that stepped down leads again when it wins the lease, without a restart", async (t) => {
    const fixedBefore = (await startsFixed(standby)) ?? 0;
    const releasedAt = Date.now();
    assert.equal(await leader.stop(), 0, "the current leader stops and releases the lease");
    await waitFor(
      async () => (await metric(standby, "steward_leader")) === 1,
      FAILOVER_TIMEOUT_MS,
      "the replica that stepped down to lead again",
    );
    t.diagnostic(`led again ${Date.now() - releasedAt} ms after the lease was released`);
    leader = standby;
    await docker("kill", FIX_CONTAINER);
    await waitFor(
      async () => (await containerState(FIX_CONTAINER)) === "running",
      20_000,
      `${FIX_CONTAINER} started by the replica leading again`,
    );
    await waitFor(async () => (await startsFixed(leader)) === fixedBefore + 1, 5_000, "its fix in its metrics");
  });

  it("SIGTERM: the leader stops cleanly and releases the lease", async () => {
    assert.notEqual(await leaseHolder(), "");
    assert.equal(await leader.stop(), 0);
    assert.equal(await leaseHolder(), "");
  });
});
