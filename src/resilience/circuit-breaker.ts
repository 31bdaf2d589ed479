import type { Logger } from "../telemetry/logging.js";
import type { CircuitStateLabel, StewardMetrics } from "../telemetry/metrics.js";

/**
 * The agent circuit breaker's state, as a value.
 * - `closed`: sessions start; `failures` counts consecutive failed ones.
 * - `open`: no session starts until `until` (ms); `cause` is the last failure, for people.
 * - `halfOpen`: one session, the probe (`probe`, a remediation key), may run; its result
 *   closes the breaker or opens it again.
 */
export type BreakerState =
  | { type: "closed"; failures: number }
  | { type: "open"; until: number; cause: string }
  | { type: "halfOpen"; probe: string; cause: string };

export interface BreakerOptions {
  /** Consecutive failures that open the breaker; 0 turns it off. */
  threshold: number;
  openForMs: number;
}

/** A session that ended resolved, or waiting for a person (the model answered), or failed: escalated, or the API failed. */
export type SessionResult = { type: "success" } | { type: "failure"; cause: string };

export type Admission = { allowed: true; probe: boolean } | { allowed: false; retryInMs: number; message: string };

export const CLOSED: BreakerState = { type: "closed", failures: 0 };

/** While the probe runs, the others look again this often (a probe may take minutes; an answer usually seconds). */
export const HALF_OPEN_RECHECK_MS = 5_000;

/**
 * May the session of remediation `key` run now? Pure. Once the open period is over, the
 * first session asking becomes the probe (half-open); the others wait for its result.
 */
export function admit(
  state: BreakerState,
  key: string,
  now: number,
  options: BreakerOptions,
): { state: BreakerState; admission: Admission } {
  if (options.threshold <= 0 || state.type === "closed") return { state, admission: { allowed: true, probe: false } };
  if (state.type === "open" && now < state.until) {
    // An absolute time, so the message (and the status holding it) does not change on every look.
    const at = new Date(state.until).toISOString();
    return {
      state,
      admission: {
        allowed: false,
        retryInMs: state.until - now,
        message: `the agent circuit breaker is open after repeated failures (last: ${state.cause}); no session starts before ${at}, then one probe session`,
      },
    };
  }
  if (state.type === "open")
    return { state: { type: "halfOpen", probe: key, cause: state.cause }, admission: { allowed: true, probe: true } };
  if (state.probe === key) return { state, admission: { allowed: true, probe: true } };
  return {
    state,
    admission: {
      allowed: false,
      retryInMs: HALF_OPEN_RECHECK_MS,
      message: `the agent circuit breaker is half-open: waiting for the probe session (${state.probe}) to succeed (last failure: ${state.cause})`,
    },
  };
}

/**
 * The breaker after session `key` ended with `result`. Pure. Closed: a success resets the
 * count, a failure adds one and opens the breaker at the threshold. Half-open: only the
 * probe's result counts (success closes, failure opens again). Open: results of sessions
 * admitted before it opened change nothing.
 */
export function record(
  state: BreakerState,
  session: { key: string; result: SessionResult },
  now: number,
  options: BreakerOptions,
): BreakerState {
  const { key, result } = session;
  if (options.threshold <= 0) return state;
  switch (state.type) {
    case "closed":
      if (result.type === "success") return CLOSED;
      return state.failures + 1 >= options.threshold
        ? { type: "open", until: now + options.openForMs, cause: result.cause }
        : { type: "closed", failures: state.failures + 1 };
    case "halfOpen":
      if (state.probe !== key) return state;
      return result.type === "success" ? CLOSED : { type: "open", until: now + options.openForMs, cause: result.cause };
    case "open":
      return state;
  }
}

/**
 * Session `key` stopped without a result (shutdown, lost lease, a store error). Pure. If it
 * was the probe, the next session to ask becomes the probe at once.
 */
export function abandon(state: BreakerState, key: string, now: number): BreakerState {
  return state.type === "halfOpen" && state.probe === key ? { type: "open", until: now, cause: state.cause } : state;
}

function label(state: BreakerState): CircuitStateLabel {
  return state.type === "halfOpen" ? "half_open" : state.type;
}

/**
 * The breaker of this process's agent sessions (`--breaker-threshold`, `--breaker-open-for`):
 * the pure functions above, the clock, the state gauge and a log line per transition.
 */
export class CircuitBreaker {
  private state: BreakerState = CLOSED;

  constructor(
    private readonly options: BreakerOptions,
    private readonly deps: { metrics: StewardMetrics; logger: Logger; now?: () => number },
  ) {}

  admit(key: string): Admission {
    const next = admit(this.state, key, this.now(), this.options);
    this.transition(next.state);
    return next.admission;
  }

  record(key: string, result: SessionResult): void {
    this.transition(record(this.state, { key, result }, this.now(), this.options));
  }

  abandon(key: string): void {
    this.transition(abandon(this.state, key, this.now()));
  }

  /** Milliseconds until a session may start again; 0 unless open. */
  openFor(): number {
    return this.state.type === "open" ? Math.max(0, this.state.until - this.now()) : 0;
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private transition(next: BreakerState): void {
    const before = this.state;
    this.state = next;
    if (label(before) === label(next)) return;
    const { metrics, logger } = this.deps;
    metrics.circuitState.set({ state: label(before) }, 0);
    metrics.circuitState.set({ state: label(next) }, 1);
    if (next.type === "open" && next.until > this.now()) {
      metrics.circuitOpened.inc();
      logger.warn("agent circuit breaker opened: no session starts until it is over", {
        cause: next.cause,
        openForMs: next.until - this.now(),
      });
    } else if (next.type === "halfOpen") {
      metrics.circuitProbes.inc();
      logger.info("agent circuit breaker half-open: one probe session may run", { probe: next.probe });
    } else if (next.type === "closed") {
      logger.info("agent circuit breaker closed: sessions start again");
    }
  }
}
