// The HPA's rate policies (horizontal.go, calculateScaleUpLimitWithScalingRules
// and calculateScaleDownLimitWithBehaviors): each policy bounds the count
// relative to what the fleet was at the start of its period, worked back from
// the scale events inside that period (current − added + removed). "max"
// takes the policy allowing the most change, "min" the least, "disabled"
// none in that direction. One helper serves both directions.
import type { DirectionBehavior, RatePolicy, ScaleEventRecord } from "./autoscale-types.js";
import {
  adjustCandidate,
  ceilCount,
  floorCount,
  formatSeconds,
  plural,
  type ScaleCandidate,
} from "./scale-candidate.js";

export interface RateLimitInput {
  readonly fleetWorkers: number;
  readonly nowMs: number;
  readonly events: readonly ScaleEventRecord[];
  readonly up: DirectionBehavior;
  readonly down: DirectionBehavior;
  /** No workers and work to do: the first worker comes whatever the policies say (KEDA's activation is outside them too). */
  readonly isWaking: boolean;
}

interface PolicyLimit {
  readonly workers: number;
  readonly policy: RatePolicy;
  readonly periodStartWorkers: number;
}

export function applyRateLimits(candidate: ScaleCandidate, input: RateLimitInput): ScaleCandidate {
  const { fleetWorkers } = input;
  if (candidate.workers === fleetWorkers) return candidate;
  const direction = candidate.workers > fleetWorkers ? "up" : "down";
  const behavior = input[direction];
  const floorWorkers =
    direction === "up" && input.isWaking ? Math.max(fleetWorkers, 1) : fleetWorkers;

  if (behavior.select === "disabled") {
    if (candidate.workers === floorWorkers) return candidate;
    return adjustCandidate(
      candidate,
      floorWorkers,
      "DirectionDisabled",
      `scale-${direction} is disabled (select disabled): ${floorWorkers === fleetWorkers ? "keeping" : "waking"} ${plural(floorWorkers, "worker")}`,
    );
  }
  const limit = selectLimit(direction, behavior, input);
  if (!limit) return candidate; // no policies, no limit
  // A limit on the wrong side of the current count (the period's changes used it up) means no move, never a reverse one.
  if (direction === "up") {
    const allowed = Math.max(limit.workers, floorWorkers);
    return candidate.workers > allowed
      ? adjustCandidate(
          candidate,
          allowed,
          "ScaleUpLimited",
          `limited to ${allowed} by ${describeLimit(limit, fleetWorkers)}`,
        )
      : candidate;
  }
  const allowed = Math.min(limit.workers, fleetWorkers);
  return candidate.workers < allowed
    ? adjustCandidate(
        candidate,
        allowed,
        "ScaleDownLimited",
        `limited to ${allowed} by ${describeLimit(limit, fleetWorkers)}`,
      )
    : candidate;
}

/** The policy that decides: for "max" the one allowing the biggest change, for "min" the smallest. */
function selectLimit(
  direction: "up" | "down",
  behavior: DirectionBehavior,
  input: RateLimitInput,
): PolicyLimit | undefined {
  let selected: PolicyLimit | undefined;
  for (const policy of behavior.policies) {
    const limit = policyLimit(direction, policy, input);
    const isSelected =
      !selected ||
      (behavior.select === "max"
        ? allowsMore(direction, limit, selected)
        : allowsMore(direction, selected, limit));
    if (isSelected) selected = limit;
  }
  return selected;
}

function allowsMore(direction: "up" | "down", a: PolicyLimit, b: PolicyLimit): boolean {
  return direction === "up" ? a.workers > b.workers : a.workers < b.workers;
}

function policyLimit(
  direction: "up" | "down",
  policy: RatePolicy,
  input: RateLimitInput,
): PolicyLimit {
  const cutoffMs = input.nowMs - policy.periodSec * 1000;
  let added = 0;
  let removed = 0;
  for (const event of input.events) {
    // Strictly newer than the cutoff, as the HPA's getReplicasChangePerPeriod.
    if (event.atMs <= cutoffMs) continue;
    if (event.toWorkers > event.fromWorkers) added += event.toWorkers - event.fromWorkers;
    else removed += event.fromWorkers - event.toWorkers;
  }
  const periodStartWorkers = input.fleetWorkers - added + removed;
  return { workers: limitFrom(direction, policy, periodStartWorkers), policy, periodStartWorkers };
}

function limitFrom(
  direction: "up" | "down",
  policy: RatePolicy,
  periodStartWorkers: number,
): number {
  if (direction === "up") {
    // Rounded up, as the HPA does, or a small fleet could never grow by a percentage.
    return policy.kind === "workers"
      ? periodStartWorkers + policy.value
      : ceilCount(periodStartWorkers * (1 + policy.value / 100));
  }
  const limit =
    policy.kind === "workers"
      ? periodStartWorkers - policy.value
      : floorCount(periodStartWorkers * (1 - policy.value / 100));
  return Math.max(0, limit);
}

function describeLimit(limit: PolicyLimit, fleetWorkers: number): string {
  const { policy } = limit;
  const rate = `${policy.kind === "workers" ? plural(policy.value, "worker") : `${policy.value}%`} per ${formatSeconds(policy.periodSec)} s`;
  return limit.periodStartWorkers === fleetWorkers
    ? rate
    : `${rate} (${limit.periodStartWorkers} at the start of the period)`;
}

/** The events the next call needs: those inside the longest policy period, plus this decision's change if any. */
export function recordScaleEvent(
  input: Pick<RateLimitInput, "events" | "nowMs" | "up" | "down">,
  fromWorkers: number,
  toWorkers: number,
): ScaleEventRecord[] {
  const longestPeriodMs =
    Math.max(0, ...[...input.up.policies, ...input.down.policies].map((p) => p.periodSec)) * 1000;
  const kept = input.events.filter((event) => event.atMs > input.nowMs - longestPeriodMs);
  return fromWorkers === toWorkers
    ? kept
    : [...kept, { atMs: input.nowMs, fromWorkers, toWorkers }];
}
