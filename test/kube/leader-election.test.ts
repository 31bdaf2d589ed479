import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { CoordinationV1Api, V1MicroTime, type V1Lease } from "@kubernetes/client-node";
import { silentLogger } from "../../src/telemetry/logging.js";
import { KubernetesLeaseClient, LeaderElector, type LeaseClient } from "../../src/kube/leader-election.js";
import type { LeaseTiming } from "../../src/kube/lease.js";
import { waitFor } from "../../scripts/lib/wait.js";
import { cluster } from "../support/kube.js";

/** The protocol is the same at any scale; short times keep the test short. */
const TIMING: LeaseTiming = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 200, callTimeoutMs: 800 };
const NAMESPACE = "default";

/** A client that can be cut off from the API server: while cut, every call hangs until its signal fires. */
class CuttableClient implements LeaseClient {
  cut = false;
  constructor(private readonly inner: LeaseClient) {}
  read(signal: AbortSignal): Promise<V1Lease | undefined> {
    return this.gate(signal, () => this.inner.read(signal));
  }
  create(lease: V1Lease, signal: AbortSignal): Promise<V1Lease> {
    return this.gate(signal, () => this.inner.create(lease, signal));
  }
  replace(lease: V1Lease, signal: AbortSignal): Promise<V1Lease> {
    return this.gate(signal, () => this.inner.replace(lease, signal));
  }
  private gate<T>(signal: AbortSignal, call: () => Promise<T>): Promise<T> {
    if (!this.cut) return call();
    return new Promise((_, reject) =>
      signal.addEventListener("abort", () => reject(new Error("cut off")), { once: true }),
    );
  }
}

interface Candidate {
  identity: string;
  elector: LeaderElector;
  client: CuttableClient;
  /** What the callbacks reported, with the time. */
  log: { event: "started" | "stopped"; at: number; reason?: string }[];
  /** Returned by onStoppedLeading: the elector tries to lead again only once it settles. */
  stepDown?: Promise<void>;
}

describe("leader election on a Lease, on a real kube-apiserver", () => {
  const name = `steward-test-${randomBytes(3).toString("hex")}`;
  const candidates: Candidate[] = [];

  async function candidate(identity: string): Promise<Candidate> {
    const client = new CuttableClient(new KubernetesLeaseClient(await cluster(), { namespace: NAMESPACE, name }));
    const elector = new LeaderElector({
      client,
      lease: { namespace: NAMESPACE, name },
      identity,
      logger: silentLogger(),
      timing: TIMING,
    });
    const c: Candidate = { identity, elector, client, log: [] };
    candidates.push(c);
    elector.start({
      onStartedLeading: () => c.log.push({ event: "started", at: Date.now() }),
      onStoppedLeading: (reason) => {
        c.log.push({ event: "stopped", at: Date.now(), reason });
        return c.stepDown;
      },
    });
    return c;
  }

  async function lease(): Promise<V1Lease> {
    return (await cluster()).makeApiClient(CoordinationV1Api).readNamespacedLease({ name, namespace: NAMESPACE });
  }

  const leading = (c: Candidate): boolean => c.log.at(-1)?.event === "started";

  after(async () => {
    for (const c of candidates) c.client.cut = false;
    await Promise.all(candidates.map((c) => c.elector.release()));
    await (
      await cluster()
    )
      .makeApiClient(CoordinationV1Api)
      .deleteNamespacedLease({ name, namespace: NAMESPACE })
      .catch(() => undefined);
  });

  it("two candidates started together: exactly one leads, the Lease names it, the other stands by", async () => {
    const [a, b] = await Promise.all([candidate("a_1"), candidate("b_1")]);
    const leader = await waitFor(() => [a, b].find(leading), 10_000, "a leader");
    const standby = leader === a ? b : a;
    // Several renewals later nothing has changed: the standby never took over.
    await waitFor(
      async () => {
        const spec = (await lease()).spec;
        return Date.parse(String(spec?.renewTime)) - Date.parse(String(spec?.acquireTime)) >= 3 * TIMING.retryPeriodMs;
      },
      5_000,
      "three renewals",
    );
    assert.equal(leader.log.length, 1);
    assert.equal(standby.log.length, 0);
    assert.equal((await lease()).spec?.holderIdentity, leader.identity);
    assert.equal((await lease()).spec?.leaseTransitions, 0);
    assert.equal(leader.elector.isLeader(), true);
    assert.equal(standby.elector.isLeader(), false);
  });

  it("a released lease is taken at the standby's next retry, well before it would expire, and counts a transition", async () => {
    const leader = candidates.find(leading);
    const standby = candidates.find((c) => !leading(c));
    assert.ok(leader && standby);
    const released = Date.now();
    await leader.elector.release();
    assert.equal((await lease()).spec?.holderIdentity ?? "", "", "release clears holderIdentity");
    await waitFor(() => leading(standby), TIMING.leaseDurationMs, "the standby to take the released lease");
    assert.ok((standby.log[0]?.at ?? 0) - released < TIMING.leaseDurationMs);
    assert.equal((await lease()).spec?.holderIdentity, standby.identity);
    assert.equal((await lease()).spec?.leaseTransitions, 1);
    assert.equal(leader.log.length, 1, "a release is not reported as a loss");
  });

  it("a leader cut off from the API server stops by the renew deadline, before anyone may take over", async () => {
    const leader = candidates.find((c) => leading(c) && c.elector.isLeader());
    assert.ok(leader);
    const other = await candidate("c_1");
    await waitFor(
      async () => (await lease()).spec?.holderIdentity === leader.identity,
      2_000,
      "the lease held by the leader",
    );
    const cutAt = Date.now();
    leader.client.cut = true;
    await waitFor(
      () => leader.log.at(-1)?.event === "stopped",
      TIMING.renewDeadlineMs + 1_000,
      "the cut-off leader to stop",
    );
    const stoppedAt = leader.log.at(-1)?.at ?? 0;
    // The safety property: it stopped before the lease it last renewed (before the cut) could expire.
    assert.ok(stoppedAt < cutAt + TIMING.leaseDurationMs, `stopped ${stoppedAt - cutAt} ms after the cut`);
    assert.match(leader.log.at(-1)?.reason ?? "", /could not renew the lease within 2000 ms/);
    await waitFor(() => leading(other), TIMING.leaseDurationMs * 2 + 1_000, "the other candidate to take over");
    assert.ok((other.log[0]?.at ?? 0) > stoppedAt, "the new leader started only after the old one stopped");
    assert.equal(leader.elector.isLeader(), false);
    assert.equal(leader.elector.leadingNow(), false);
    assert.equal(other.elector.leadingNow(), true);

    // Back in touch, it stays up as a standby: the other renews, it does not take over.
    leader.client.cut = false;
    await waitFor(
      async () => {
        const spec = (await lease()).spec;
        return Date.parse(String(spec?.renewTime)) - (other.log[0]?.at ?? 0) >= 3 * TIMING.retryPeriodMs;
      },
      5_000,
      "three renewals by the new leader",
    );
    assert.equal(leader.log.at(-1)?.event, "stopped");
    assert.equal((await lease()).spec?.holderIdentity, other.identity);
  });

  it("a leader that finds another holder on renewal stops at once", async () => {
    const leader = candidates.find((c) => c.elector.isLeader());
    assert.ok(leader);
    // Its step-down takes as long as the test says: until then it must not try to lead again.
    let finishStepDown: () => void = () => undefined;
    leader.stepDown = new Promise<void>((resolve) => (finishStepDown = resolve));
    const api = (await cluster()).makeApiClient(CoordinationV1Api);
    const current = await lease();
    await api.replaceNamespacedLease({
      name,
      namespace: NAMESPACE,
      body: {
        metadata: current.metadata,
        spec: {
          ...current.spec,
          holderIdentity: "intruder",
          renewTime: new V1MicroTime(),
          acquireTime: new V1MicroTime(),
        },
      },
    });
    await waitFor(() => leader.log.at(-1)?.event === "stopped", 2_000, "the leader to stop");
    assert.match(leader.log.at(-1)?.reason ?? "", /held by intruder/);

    // The intruder never renews: once its lease expires the replica that lost the lease
    // earlier (and stands by again) takes over; the one still stepping down does not try.
    const earlier = candidates.find((c) => c !== leader && c.log.at(-1)?.event === "stopped");
    assert.ok(earlier, "the replica cut off in the previous test");
    await waitFor(
      () => leading(earlier),
      TIMING.leaseDurationMs * 2 + 1_000,
      "the replica that lost the lease earlier to lead again",
    );
    assert.equal((await lease()).spec?.holderIdentity, earlier.identity);
    assert.equal(leader.log.at(-1)?.event, "stopped", "no attempt to lead while stepping down");

    // Stepped down and released by the current leader: it leads again, without a restart.
    finishStepDown();
    await earlier.elector.release();
    await waitFor(() => leading(leader), TIMING.leaseDurationMs, "the replica that stepped down to lead again");
    assert.equal((await lease()).spec?.holderIdentity, leader.identity);
    assert.equal(leader.elector.leadingNow(), true);
  });
});
