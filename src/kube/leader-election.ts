import {
  CoordinationV1Api,
  Observable,
  type ConfigurationOptions,
  type KubeConfig,
  type RequestContext,
  type ResponseContext,
  type V1Lease,
} from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { jittered } from "../resilience/backoff.js";
import type { Logger } from "../telemetry/logging.js";
import { describeApiError, statusCode } from "./api-errors.js";
import {
  LEASE_TIMING,
  leaseDecision,
  leaseRecordOf,
  leaseSpecOf,
  nextLease,
  releasedLease,
  type LeaseDecision,
  type LeaseTiming,
} from "./lease.js";

/** A standby tries to acquire every 1 to 2.2 retry periods (client-go's JitterFactor 1.2). */
const STANDBY_JITTER = 1.2;

/** The three calls leader election makes; an interface so a test can cut the replica off. */
export interface LeaseClient {
  /** The Lease, or undefined when it does not exist (404). */
  read(signal: AbortSignal): Promise<V1Lease | undefined>;
  /** Fails with 409 when someone else created it first. */
  create(lease: V1Lease, signal: AbortSignal): Promise<V1Lease>;
  /** Fails with 409 when `metadata.resourceVersion` is not the current one: someone else wrote first. */
  replace(lease: V1Lease, signal: AbortSignal): Promise<V1Lease>;
}

export interface LeaseRef {
  namespace: string;
  name: string;
}

/** The Lease through CoordinationV1Api; every call carries the caller's signal (its timeout). */
export class KubernetesLeaseClient implements LeaseClient {
  private readonly api: CoordinationV1Api;

  constructor(
    kubeConfig: KubeConfig,
    private readonly ref: LeaseRef,
  ) {
    this.api = kubeConfig.makeApiClient(CoordinationV1Api);
  }

  async read(signal: AbortSignal): Promise<V1Lease | undefined> {
    try {
      return await this.api.readNamespacedLease(this.ref, withSignal(signal));
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  create(lease: V1Lease, signal: AbortSignal): Promise<V1Lease> {
    return this.api.createNamespacedLease({ namespace: this.ref.namespace, body: lease }, withSignal(signal));
  }

  replace(lease: V1Lease, signal: AbortSignal): Promise<V1Lease> {
    return this.api.replaceNamespacedLease({ ...this.ref, body: lease }, withSignal(signal));
  }
}

function withSignal(signal: AbortSignal): ConfigurationOptions {
  const middleware = {
    pre: (context: RequestContext) => {
      context.setSignal(signal);
      return new Observable(Promise.resolve(context));
    },
    post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: "append" };
}

export interface LeadershipCallbacks {
  /** This replica now holds the lease: start acting. */
  onStartedLeading(): void;
  /**
   * This replica lost the lease (it could not renew within the renew deadline, or saw
   * another holder): stop acting at once, synchronously. The elector tries to lead again
   * only once the returned promise settles, so return one that resolves when everything
   * started in the term has stopped. Never called after release().
   */
  onStoppedLeading(reason: string): void | Promise<void>;
}

export interface LeaderElectorOptions {
  client: LeaseClient;
  lease: LeaseRef;
  /** Unique per process (a pod restarted under the same name must not pass for its predecessor). */
  identity: string;
  logger: Logger;
  timing?: LeaseTiming;
}

type ElectorState =
  | { type: "idle" }
  /** Trying to acquire every retry period (jittered); a standby replica. */
  | { type: "candidate" }
  /** Holding the lease; `deadline` fires renewDeadline after the last successful renewal. */
  | { type: "leading"; deadline: NodeJS.Timeout }
  /** Lost the lease; not trying to lead again until onStoppedLeading's promise settles. */
  | { type: "steppingDown"; done: Promise<void> }
  | { type: "stopped" };

/**
 * Leader election on a coordination.k8s.io/v1 Lease, the client-go protocol: read the
 * Lease; create it, take it when free or expired, or renew it when ours, by a replace that
 * carries the resourceVersion read (a 409 means another replica wrote first, and we read
 * again at the next retry). A leader renews every retry period and gives up the moment
 * the renew deadline passes without a successful renewal; once the caller has stopped
 * acting (onStoppedLeading's promise), it is a candidate again and may lead again, under
 * the same identity. It never throws outward: it reports through the callbacks and logs.
 */
export class LeaderElector {
  private state: ElectorState = { type: "idle" };
  private readonly stopping = new AbortController();
  private callbacks: LeadershipCallbacks | undefined;
  private loop: Promise<void> | undefined;
  private renewedAt = 0;
  private seenHolder: string | undefined;
  private readonly timing: LeaseTiming;
  private readonly logger: Logger;

  constructor(private readonly options: LeaderElectorOptions) {
    this.timing = options.timing ?? LEASE_TIMING;
    this.logger = options.logger.child({
      lease: `${options.lease.namespace}/${options.lease.name}`,
      identity: options.identity,
    });
  }

  start(callbacks: LeadershipCallbacks): void {
    if (this.state.type !== "idle") return;
    this.callbacks = callbacks;
    this.state = { type: "candidate" };
    this.logger.info("leader election: waiting to acquire the lease");
    this.loop = this.run();
  }

  isLeader(): boolean {
    return this.state.type === "leading";
  }

  /**
   * Leading, and by this replica's clock still within the renew deadline of the last
   * renewal. Stricter than isLeader(): after a pause (SIGSTOP, a long GC) the deadline timer
   * may not have run yet, but this already says no.
   */
  leadingNow(): boolean {
    return this.state.type === "leading" && Date.now() < this.renewedAt + this.timing.renewDeadlineMs;
  }

  /**
   * Stops taking part and, if this replica leads, clears holderIdentity so a standby takes
   * over at its next retry instead of after the lease duration. Stop acting before calling
   * this: once released, another replica may act at any moment.
   */
  async release(): Promise<void> {
    // Stepping down: a renewal in flight when the lease was lost may have succeeded; writeRelease clears only our own.
    const mayHold = this.state.type === "leading" || this.state.type === "steppingDown";
    this.halt();
    await this.loop;
    if (mayHold) await this.writeRelease();
  }

  private async run(): Promise<void> {
    const { signal } = this.stopping;
    while (!signal.aborted) {
      if (this.state.type === "steppingDown") {
        await this.state.done;
        continue;
      }
      await this.tryAcquireOrRenew();
      // Standbys retry with jitter (up to 2.2× the period) so they do not race in step.
      const { retryPeriodMs } = this.timing;
      const period = this.state.type === "leading" ? retryPeriodMs : jittered(retryPeriodMs, STANDBY_JITTER);
      await sleep(period, undefined, { signal }).catch(() => undefined);
    }
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const { client, identity } = this.options;
    // Taken before the read: renewTime (and the deadline measured from it) is never later than the truth.
    const now = new Date();
    const signal = this.callSignal();
    try {
      const lease = await client.read(signal);
      const record = lease && leaseRecordOf(lease);
      const decision = leaseDecision(record, now, identity, this.timing.leaseDurationMs);
      if (decision.type === "wait") return this.standBy(decision);
      const spec = leaseSpecOf(nextLease(decision, record, { now, identity, durationMs: this.timing.leaseDurationMs }));
      if (decision.type === "create") await client.create({ metadata: { ...this.options.lease }, spec }, signal);
      else await client.replace({ metadata: lease?.metadata, spec }, signal);
      this.renewed(now, decision, spec.leaseTransitions);
    } catch (err) {
      if (this.stopping.signal.aborted) return;
      if (statusCode(err) === 409) {
        this.logger.debug("leader election: another replica wrote the lease first");
        return;
      }
      const leading = this.state.type === "leading";
      this.logger.warn(
        leading
          ? "leader election: renewing the lease failed; retrying until the renew deadline"
          : "leader election: reading or acquiring the lease failed",
        {
          error: describeApiError(err),
          ...(leading
            ? { renewDeadlineIn: `${Math.max(0, this.renewedAt + this.timing.renewDeadlineMs - Date.now())}ms` }
            : {}),
        },
      );
    }
  }

  /** Every call's timeout: the call timeout, cut to what is left before the renew deadline. */
  private callSignal(): AbortSignal {
    const left =
      this.state.type === "leading"
        ? this.renewedAt + this.timing.renewDeadlineMs - Date.now()
        : Number.POSITIVE_INFINITY;
    const timeoutMs = Math.max(1, Math.min(this.timing.callTimeoutMs, left));
    return AbortSignal.any([AbortSignal.timeout(timeoutMs), this.stopping.signal]);
  }

  private standBy(decision: Extract<LeaseDecision, { type: "wait" }>): void {
    if (this.state.type === "leading") {
      this.lose(`the lease is held by ${decision.holder}`);
      return;
    }
    if (decision.holder === this.seenHolder) return;
    this.seenHolder = decision.holder;
    this.logger.info("standing by: another replica holds the lease", {
      holder: decision.holder,
      expiresAt: decision.expiresAt.toISOString(),
    });
  }

  private renewed(at: Date, decision: Exclude<LeaseDecision, { type: "wait" }>, transitions: number | undefined): void {
    // A write that landed after the loss was declared: the Lease names us, but we lead again
    // only after stepping down completes (the next attempt then renews it).
    if (this.stopping.signal.aborted || this.state.type === "steppingDown") return;
    const wasLeading = this.state.type === "leading";
    if (this.state.type === "leading") clearTimeout(this.state.deadline);
    this.renewedAt = at.getTime();
    const deadline = setTimeout(
      () => this.lose(`could not renew the lease within ${this.timing.renewDeadlineMs} ms`),
      this.renewedAt + this.timing.renewDeadlineMs - Date.now(),
    );
    this.state = { type: "leading", deadline };
    if (wasLeading) return;
    const previousHolder = decision.type === "acquire" ? decision.previousHolder : undefined;
    this.logger.info("became the leader", { previousHolder, leaseTransitions: transitions });
    this.callbacks?.onStartedLeading();
  }

  private lose(reason: string): void {
    if (this.state.type !== "leading") return;
    clearTimeout(this.state.deadline);
    let settle: () => void = () => undefined;
    this.state = { type: "steppingDown", done: new Promise<void>((resolve) => (settle = resolve)) };
    this.logger.error("lost the lease: stopping at once", { reason });
    let stopped: void | Promise<void>;
    try {
      stopped = this.callbacks?.onStoppedLeading(reason);
    } catch (err) {
      stopped = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    void Promise.resolve(stopped)
      .catch((err: unknown) => this.logger.error("stepping down failed", { error: describeApiError(err) }))
      .then(() => {
        if (this.state.type === "steppingDown") {
          this.state = { type: "candidate" };
          this.seenHolder = undefined;
          this.logger.info("stopped acting; rejoining the election as a standby");
        }
        settle();
      });
  }

  private halt(): void {
    if (this.state.type === "leading") clearTimeout(this.state.deadline);
    this.state = { type: "stopped" };
    this.stopping.abort();
  }

  private async writeRelease(): Promise<void> {
    const { client, identity } = this.options;
    const signal = AbortSignal.timeout(this.timing.callTimeoutMs);
    try {
      const lease = await client.read(signal);
      if (!lease) return;
      const record = leaseRecordOf(lease);
      if (record.holderIdentity !== identity) return;
      await client.replace({ metadata: lease.metadata, spec: leaseSpecOf(releasedLease(record, new Date())) }, signal);
      this.logger.info("released the lease");
    } catch (err) {
      this.logger.warn("could not release the lease; a standby takes over when it expires", {
        error: describeApiError(err),
      });
    }
  }
}
