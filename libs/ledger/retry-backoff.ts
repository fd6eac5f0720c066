// How long a failed task waits before its next attempt: exponential backoff
// with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"):
// a uniform draw in [0, min(cap, base * 2^(failedAttempt-1))). Full jitter
// spreads a burst of failures out instead of retrying them in lockstep.
import type { TaskSpec } from "../contracts/index.js";

export interface BackoffPolicy {
  readonly baseMs: number;
  readonly capMs: number;
}

export function retryDelayMs(failedAttempt: number, policy: BackoffPolicy, random: () => number): number {
  const exponent = Math.min(30, Math.max(0, failedAttempt - 1));
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** exponent);
  return Math.floor(random() * ceiling);
}

/** The task's own backoff where it sets one, the configured default otherwise. */
export function backoffPolicyOf(spec: TaskSpec | undefined, defaults: BackoffPolicy): BackoffPolicy {
  const ms = (d: { seconds: bigint; nanos: number } | undefined): number | undefined => (d ? Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6) : undefined);
  const baseMs = ms(spec?.retryBackoffBase) ?? defaults.baseMs;
  const capMs = ms(spec?.retryBackoffCap) ?? Math.max(defaults.capMs, baseMs);
  return { baseMs, capMs };
}
