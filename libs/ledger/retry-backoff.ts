// How long a failed task waits before its next attempt: the shared
// exponential backoff with full jitter (libs/backoff), its ceiling doubling
// per failed attempt from the task's own base, or the configured one.
import { durationMs } from "@bufbuild/protobuf/wkt";
import { backoffDelayMs, type BackoffPolicy } from "../backoff/index.js";
import type { TaskSpec } from "../contracts/index.js";

export type { BackoffPolicy } from "../backoff/index.js";

/** The wait after attempt `failedAttempt` failed (attempts count from 1, so the first failure waits up to initialMs). */
export function retryDelayMs(
  failedAttempt: number,
  policy: BackoffPolicy,
  random: () => number,
): number {
  return backoffDelayMs(policy, failedAttempt, random);
}

/** The task's own backoff where it sets one, the configured default otherwise. */
export function backoffPolicyOf(
  spec: TaskSpec | undefined,
  defaults: BackoffPolicy,
): BackoffPolicy {
  const initialMs = spec?.retryBackoffBase ? durationMs(spec.retryBackoffBase) : defaults.initialMs;
  const maxMs = spec?.retryBackoffCap
    ? durationMs(spec.retryBackoffCap)
    : Math.max(defaults.maxMs, initialMs);
  return { initialMs, maxMs };
}
