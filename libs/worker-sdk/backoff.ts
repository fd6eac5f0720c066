// How long to wait before reconnecting: exponential backoff with full jitter
// (AWS Architecture Blog, "Exponential Backoff and Jitter", 2015). The cap
// doubles from initialMs per failed attempt up to maxMs, and the delay is
// drawn uniformly below the cap, so a fleet of workers that lost the same
// coordinator does not reconnect in lock-step.

export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
}

/** The upper bound of the delay after `attempt` failures in a row (0-based). */
export function backoffCapMs(policy: BackoffPolicy, attempt: number): number {
  const initialMs = Math.max(1, policy.initialMs);
  const maxMs = Math.max(initialMs, policy.maxMs);
  // 2^attempt overflows to Infinity long after it passed any sane maxMs; min() keeps it finite.
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt));
}

/** A delay in [0, cap): `random` returns [0, 1) like Math.random, injected so tests replay exactly. */
export function reconnectDelayMs(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  return Math.floor(random() * backoffCapMs(policy, attempt));
}
