import type { RunConfig } from "../config.js";
import type { Logger } from "../logging.js";
import type { Controller } from "../reconcile/controller.js";
import type { StewardMetrics } from "../server/metrics.js";
import { KubernetesLeaseClient, LeaderElector } from "../store/kubernetes/leader-election.js";
import { defaultKubeConfig } from "../store/open.js";

/** The controllers of one process, run only while it leads. */
export interface Leadership {
  /** Resolves with the reason when this replica loses the lease; never without leader election. */
  readonly lost: Promise<string>;
  /** Stops the controllers (in the order given, each drained), then releases the lease. */
  stop(): Promise<void>;
}

/**
 * Starts `controllers` now (no leader election: the file store, or --leader-elect=false) or
 * when this replica acquires the Lease. Until then it is a standby: its store and observers
 * run and keep their caches warm, its queues fill, it is Ready, and it acts on nothing.
 *
 * On losing the lease every controller is aborted at once (each reconcile's and agent
 * session's signal fires, a running tool's child process is killed) and `lost` resolves so
 * the caller exits the process, as controller-runtime does. Why not a clean stop and a
 * return to standby: work already in flight may not honour its signal (a status write
 * already sent, a step between two awaits) and could act after another replica took over;
 * only exiting makes sure nothing more is done. A restarted pod comes back as a standby
 * with fresh caches and nothing half-done in memory.
 */
export function runWhileLeading(
  controllers: readonly Controller[],
  options: { election: RunConfig["leaderElection"]; metrics: StewardMetrics; logger: Logger },
): Leadership {
  const { election, metrics, logger } = options;
  let stopping = false;
  const startActing = (): void => {
    if (stopping) return;
    metrics.leader.set(1);
    for (const controller of controllers) controller.start();
  };
  const stopControllers = async (): Promise<void> => {
    stopping = true;
    metrics.leader.set(0);
    for (const controller of controllers) await controller.stop();
  };
  if (!election) {
    startActing();
    return { lost: new Promise<string>(() => undefined), stop: stopControllers };
  }
  const lease = { namespace: election.leaseNamespace, name: election.leaseName };
  const elector = new LeaderElector({ client: new KubernetesLeaseClient(defaultKubeConfig(), lease), lease, identity: election.identity, logger });
  let markLost: (reason: string) => void = () => undefined;
  const lost = new Promise<string>((resolve) => (markLost = resolve));
  elector.start({
    onStartedLeading: startActing,
    onStoppedLeading: (reason) => {
      stopping = true;
      metrics.leader.set(0);
      // All at once and not awaited: each stop() aborts its signals synchronously; the
      // process exits without waiting for the drain.
      for (const controller of controllers) void controller.stop();
      markLost(reason);
    },
  });
  return {
    lost,
    async stop(): Promise<void> {
      // Stop acting first: once the lease is released another replica may act at any moment.
      await stopControllers();
      await elector.release();
    },
  };
}
