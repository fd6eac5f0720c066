// Exponential backoff with full jitter (AWS Architecture Blog, "Exponential
// Backoff And Jitter", 2015): after `failures` failures in a row the ceiling
// is min(maxMs, initialMs * 2^(failures-1)), and the delay is drawn uniformly
// below it, so many clients that failed together do not retry in lockstep.
// The one copy: task retries, reconnects, discovery re-reads and worker
// recovery all wait through it.

export interface BackoffPolicy {
  /** The ceiling after the first failure. */
  readonly initialMs: number;
  /** The ceiling never grows past this. */
  readonly maxMs: number;
}

/** The ceiling of the wait after `failures` failures in a row (1 = the first); 0 failures wait nothing. */
export function backoffCeilingMs(policy: BackoffPolicy, failures: number): number {
  if (failures <= 0) return 0;
  const initialMs = Math.max(0, policy.initialMs);
  const maxMs = Math.max(initialMs, policy.maxMs);
  // 2^30 passes any sane maxMs long before the float overflows.
  return Math.min(maxMs, initialMs * 2 ** Math.min(30, failures - 1));
}

/** A full-jitter delay in [0, ceiling); `random` returns [0, 1) like Math.random, injected so tests replay exactly. */
export function backoffDelayMs(
  policy: BackoffPolicy,
  failures: number,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * backoffCeilingMs(policy, failures));
}
