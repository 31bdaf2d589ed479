import { setTimeout as sleep } from "node:timers/promises";
import type { RunConfig } from "./config.js";
import type { Logger } from "../telemetry/logging.js";
import type { Controller } from "../reconcile/controller.js";
import type { StewardMetrics } from "../telemetry/metrics.js";
import { NotLeaderError, type Fence } from "../kube/fence.js";
import type { LeaderElector } from "../kube/leader-election.js";

/**
 * How long a replica that lost the lease waits for its controllers to return before it gives
 * up and exits (code 3). Longer than any single call they make: a store call times out after
 * 10 s, a Docker call after 10 s plus the container's stop grace period.
 */
export const STEP_DOWN_TIMEOUT_MS = 30_000;

/**
 * The fence of `steward run` (see Fence): open while this process acts. Without leader
 * election it opens when the controllers start; with it, only while the elector says this
 * replica leads by its own clock (`leadingNow`), so it closes at the renew deadline even
 * before the timer that declares the loss has run.
 */
export class LeadershipFence implements Fence {
  private acting = false;
  private leading: () => boolean = () => true;

  /** Leader election on: the fence also asks the elector. */
  follow(leadingNow: () => boolean): void {
    this.leading = leadingNow;
  }

  open(): void {
    this.acting = true;
  }

  close(): void {
    this.acting = false;
  }

  check(step: string): void {
    if (!this.isOpen()) throw new NotLeaderError(step);
  }

  /** Whether this process may act now (what check() asks). */
  isOpen(): boolean {
    return this.acting && this.leading();
  }
}

/** The controllers of one process, run only while it leads. */
export interface Leadership {
  /**
   * Resolves with the reason if this replica lost the lease and its controllers did not
   * return within STEP_DOWN_TIMEOUT_MS: the caller must exit. Never resolves otherwise.
   */
  readonly lost: Promise<string>;
  /** Stops the controllers (in the order given, each drained), then releases the lease. */
  stop(): Promise<void>;
}

export interface LeadershipOptions {
  /** Undefined: no leader election (act at once). See openLeaderElector. */
  elector: LeaderElector | undefined;
  metrics: StewardMetrics;
  logger: Logger;
  fence: LeadershipFence;
}

/**
 * Starts `controllers` now (no leader election: the file store, or --leader-elect=false) or
 * whenever this replica acquires the Lease. Until then it is a standby: its store and
 * observers run and keep their caches warm, its queues fill, it is Ready, and it acts on
 * nothing.
 *
 * On losing the lease it stops acting at once and stays up: the fence closes (no store
 * write, Docker or Kubernetes action is sent from then on, retries included), every
 * controller is paused (each reconcile's and agent session's signal fires, a running
 * tool's child process is killed), and once they have all returned the replica rejoins the
 * election as a standby; it acts again when it wins. Work that does not honour its signal
 * finds the fence closed at its next side effect. If the controllers do not return within
 * STEP_DOWN_TIMEOUT_MS, `lost` resolves and the caller exits, as before (ADR 0003).
 */
export function runWhileLeading(controllers: readonly Controller[], options: LeadershipOptions): Leadership {
  const { elector, metrics, logger, fence } = options;
  let stopping = false;
  const startActing = (): void => {
    if (stopping) return;
    fence.open();
    metrics.leader.set(1);
    for (const controller of controllers) controller.start();
  };
  const stopControllers = async (): Promise<void> => {
    stopping = true;
    fence.close();
    metrics.leader.set(0);
    for (const controller of controllers) await controller.stop();
  };
  if (!elector) {
    startActing();
    return { lost: new Promise<string>(() => undefined), stop: stopControllers };
  }
  let markLost: (reason: string) => void = () => undefined;
  const lost = new Promise<string>((resolve) => (markLost = resolve));
  const stepDown = async (reason: string): Promise<void> => {
    fence.close();
    metrics.leader.set(0);
    metrics.leadershipLost.inc();
    const startedAt = Date.now();
    // All at once: each pause() aborts its term's signals synchronously, then waits for its workers.
    const paused = Promise.all(controllers.map((c) => c.pause(new NotLeaderError("lost the leader lease"))));
    const drained = await Promise.race([paused.then(() => true), sleep(STEP_DOWN_TIMEOUT_MS, false, { ref: false })]);
    if (!drained) {
      logger.error("controllers did not stop after the lease was lost; exiting", {
        reason,
        waitedMs: STEP_DOWN_TIMEOUT_MS,
      });
      markLost(reason);
      return new Promise<void>(() => undefined);
    }
    logger.warn("stopped acting after losing the lease; standing by to lead again", {
      reason,
      tookMs: Date.now() - startedAt,
    });
  };
  fence.follow(() => elector.leadingNow());
  elector.start({ onStartedLeading: startActing, onStoppedLeading: stepDown });
  return {
    lost,
    async stop(): Promise<void> {
      // Stop acting first: once the lease is released another replica may act at any moment.
      await stopControllers();
      await elector.release();
    },
  };
}

/**
 * The elector for `election` (undefined without leader election). Its modules are imported
 * on demand: only a Steward on the Kubernetes store elects a leader, and
 * @kubernetes/client-node costs about 80 MB (ADR 0010).
 */
export async function openLeaderElector(
  election: RunConfig["leaderElection"],
  logger: Logger,
): Promise<LeaderElector | undefined> {
  if (!election) return undefined;
  const [{ KubernetesLeaseClient, LeaderElector }, { defaultKubeConfig }] = await Promise.all([
    import("../kube/leader-election.js"),
    import("../kube/config.js"),
  ]);
  const lease = { namespace: election.leaseNamespace, name: election.leaseName };
  return new LeaderElector({
    client: new KubernetesLeaseClient(defaultKubeConfig(), lease),
    lease,
    identity: election.identity,
    logger,
  });
}
