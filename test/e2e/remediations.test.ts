import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { compose, containerState, docker, ensureCluster, makeEtcd2CrashLoop } from "../../scripts/lib/cluster.js";
import { ALL_MEMBERS_UP, etcdDesiredState } from "../support/desired-states.js";
import { metric, moreReconciles, settled } from "../support/metrics.js";
import { condition, getDesiredState, listRemediations } from "../support/status.js";
import { startWith } from "../support/start.js";
import { cli, type StewardProcess } from "../support/steward.js";
import { waitFor } from "../../scripts/lib/wait.js";

describe("drift with no simple fix opens an AgentRemediation", () => {
  let running: StewardProcess | undefined;

  before(ensureCluster);
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    await docker("rm", "-f", "etcd2").catch(() => "");
    await ensureCluster();
  });
  after(ensureCluster);

  it("a crash-looping member: exactly one remediation after the restart budget, with exit code and logs", async () => {
    // Replace etcd2 by a container of the same compose service whose etcd rejects its flags.
    await makeEtcd2CrashLoop();
    const { state, steward } = await startWith(etcdDesiredState({ budget: { max: 2, window: "10m" } }));
    running = steward;
    const [remediation] = await waitFor(
      async () => {
        const list = await listRemediations(state);
        return list.length > 0 ? list : undefined;
      },
      30_000,
      "a remediation for the crash loop",
    );
    assert.equal(remediation?.spec.reason, "RestartBudgetExhausted");
    assert.equal(remediation?.status?.phase, "Pending");
    assert.equal(remediation?.status?.reason, "NoModelConfigured");
    const evidence = remediation?.spec.drift[0]?.evidence.containers?.[0];
    assert.equal(evidence?.name, "etcd2");
    assert.equal(evidence?.exitCode, 2, "etcd exits 2 on an unknown flag");
    assert.ok((evidence?.logs.length ?? 0) > 0, "log lines are evidence");
    assert.match(evidence?.logs.join("\n") ?? "", /flag provided but not defined: -no-such-flag/);
    assert.equal(remediation?.spec.drift[0]?.evidence.fixesTried, 2);

    // Later reconciles (interval 2s, plus Docker events) open no second one and stop restarting it.
    const ds = await getDesiredState(state, "etcd");
    const startsBefore = ds?.status?.fixes.filter((f) => f.subject === "container/etcd2").length;
    assert.equal(startsBefore, 2, "exactly restartBudget.max simple fixes were tried");
    await moreReconciles(steward, "desiredstate", 3);
    assert.equal((await listRemediations(state)).length, 1);
    assert.equal(await metric(steward, "steward_remediations_opened_total"), 1);
    const later = await getDesiredState(state, "etcd");
    assert.equal(
      later?.status?.fixes.filter((f) => f.subject === "container/etcd2").length,
      2,
      "no more restarts once handed over",
    );
    assert.equal(condition(later, "Remediating"), "True/RemediationOpen");
    assert.equal(later?.status?.activeRemediation, remediation?.metadata.name);
    const described = await cli(state, "describe", "remediation", remediation?.metadata.name ?? "");
    assert.match(described.stdout, /exitCode=2/);
    assert.match(described.stdout, /No model is configured[\s\S]*ANTHROPIC_API_KEY/);
  });

  it("a removed member: a remediation opens at once; recreated, it resolves as DriftCleared", async () => {
    const { state, steward } = await startWith(etcdDesiredState());
    running = steward;
    await waitFor(
      async () => condition(await getDesiredState(state, "etcd"), "Ready") === "True/AsDeclared",
      30_000,
      "Ready before the fault",
    );
    const removedAt = Date.now();
    await docker("rm", "-f", "etcd2");
    const [remediation] = await waitFor(
      async () => {
        const list = await listRemediations(state);
        return list.length > 0 ? list : undefined;
      },
      10_000,
      "a remediation for the removed member",
    );
    console.log(`etcd2 removed → remediation open in ${Date.now() - removedAt} ms`);
    assert.equal(remediation?.spec.drift[0]?.type, "ContainerMissing");
    assert.equal(remediation?.spec.reason, "NoSimpleFix");
    const table = await cli(state, "get", "rem");
    assert.match(
      table.stdout,
      /^NAME\s+TARGET\s+PHASE\s+REASON\s+ATTEMPTS\s+TOKENS\s+AGE\n\S+\s+etcd\s+Pending\s+NoModelConfigured\s+0\s+0\s+\d+s/,
    );

    await compose("up", "-d", "etcd2");
    const resolved = await waitFor(
      async () => {
        const list = await listRemediations(state);
        return list[0]?.status?.phase === "Resolved" ? list[0] : undefined;
      },
      20_000,
      "the remediation resolved once the member is back",
    );
    assert.equal(resolved.status?.reason, "DriftCleared");
    assert.equal((await listRemediations(state)).length, 1);

    // Removed again within the cooldown (5m): a flap. The DesiredState says so, and no second
    // remediation opens (read after that condition is written, not after a sleep).
    await docker("rm", "-f", "etcd2");
    const flapping = await waitFor(
      async () => {
        const ds = await getDesiredState(state, "etcd");
        return condition(ds, "Remediating") === "False/Flapping" ? ds : undefined;
      },
      20_000,
      "the DesiredState to report the flap",
    );
    assert.match(
      flapping.status?.conditions.find((c) => c.type === "Remediating")?.message ?? "",
      /service\/etcd2 cleared by itself and came back: a remediation opens if it is still here at \S+Z/,
    );
    assert.equal((await listRemediations(state)).length, 1, "no second remediation while it flaps");
  });

  it("an invariant violated with simple fixes disabled: the remediation opens after the for window, not before", async (t) => {
    const { state, steward } = await startWith(
      etcdDesiredState({ name: "quorum", members: [], simpleFixes: [], invariants: ALL_MEMBERS_UP, interval: "1s" }),
    );
    running = steward;
    await waitFor(
      async () => condition(await getDesiredState(state, "quorum"), "Ready") === "True/AsDeclared",
      30_000,
      "quorum holds",
    );
    const stoppedAt = Date.now();
    await docker("stop", "-t", "1", "etcd1");
    // "Not before" is read from the record, not from a poll that may come late on a busy
    // machine: the remediation's openedAt against the time the violation began (drift.since).
    const [remediation] = await waitFor(
      async () => {
        const list = await listRemediations(state);
        return list.length > 0 ? list : undefined;
      },
      30_000,
      "a remediation after the for window",
    );
    const openedAt = Date.parse(remediation?.status?.openedAt ?? "");
    const violationSince = Date.parse(remediation?.spec.drift[0]?.since ?? "");
    t.diagnostic(
      `etcd1 stopped; violation began after ${violationSince - stoppedAt} ms; remediation opened after ${openedAt - stoppedAt} ms`,
    );
    assert.ok(
      openedAt - violationSince >= 4_000,
      `opened ${openedAt - violationSince} ms after the violation began; for is 4s`,
    );
    // The status is written in the reconcile that opened it, just after.
    const violated = await waitFor(
      async () => {
        const invariant = (await getDesiredState(state, "quorum"))?.status?.invariants[0];
        return invariant?.state === "Violated" ? invariant : undefined;
      },
      10_000,
      "the invariant Violated in the status",
    );
    assert.equal(Date.parse(violated.since), violationSince, "one episode: Pending from then on, then Violated");
    assert.equal(remediation?.spec.drift[0]?.type, "InvariantViolated");
    assert.equal(remediation?.spec.drift[0]?.evidence.metric?.query, 'count(up{job="etcd"} == 1)');
    assert.equal(remediation?.spec.drift[0]?.evidence.metric?.samples[0]?.value, "2");
    assert.equal(
      await containerState("etcd1"),
      "exited",
      "simple fixes disabled and no services declared: Steward did not start it",
    );
  });

  it("Prometheus stopped: invariants Unknown with the reason, no remediation; back: normal", async () => {
    const { state, steward } = await startWith(
      etcdDesiredState({ name: "quorum", invariants: ALL_MEMBERS_UP, interval: "1s" }),
    );
    running = steward;
    await waitFor(
      async () => condition(await getDesiredState(state, "quorum"), "Ready") === "True/AsDeclared",
      30_000,
      "quorum holds",
    );
    await docker("stop", "-t", "1", "prometheus");
    const ds = await waitFor(
      async () => {
        const current = await getDesiredState(state, "quorum");
        return condition(current, "Ready") === "Unknown/PrometheusUnavailable" ? current : undefined;
      },
      15_000,
      "Ready Unknown because Prometheus is down",
    );
    assert.equal(ds.status?.invariants[0]?.state, "Unknown");
    assert.match(ds.status?.conditions.find((c) => c.type === "Ready")?.message ?? "", /127\.0\.0\.1:19090/);
    assert.equal(condition(ds, "Degraded"), "True/PrometheusUnavailable");
    // Reconciles after the invariant's for window (4s) has passed since it became Unknown open nothing.
    const unknownSince = Date.parse(ds.status?.invariants[0]?.since ?? "");
    await waitFor(() => Date.now() > unknownSince + 4_000, 10_000, "the for window to pass");
    // Nothing changes while Prometheus is down, so nothing reconciles it again (ADR 0010): settled is the signal.
    await settled(steward, "desiredstate");
    assert.equal(condition(await getDesiredState(state, "quorum"), "Ready"), "Unknown/PrometheusUnavailable");
    assert.deepEqual(await listRemediations(state), [], "Unknown is never a violation");
    assert.equal(await metric(steward, "steward_remediations_opened_total"), 0);
    await docker("start", "prometheus");
    await waitFor(
      async () => condition(await getDesiredState(state, "quorum"), "Ready") === "True/AsDeclared",
      45_000,
      "Ready again once Prometheus is back",
    );
    assert.deepEqual(await listRemediations(state), []);
  });
});
