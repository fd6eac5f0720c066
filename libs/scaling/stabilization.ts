// The HPA's stabilization windows (horizontal.go,
// stabilizeRecommendationWithBehaviors): the fleet grows no further than the
// lowest raw recommendation of the up window and shrinks no further than the
// highest of the down window. Both limits apply at once, so the result always
// lies between the current count and the raw recommendation. A scale-down
// therefore needs every recommendation of the last down window below the
// current count, which is what keeps a noisy load from flapping the fleet:
// a scale-down never comes sooner than one down window after a scale-up.
import type { DirectionBehavior, RecommendationRecord } from "./autoscale-types.js";
import { adjustCandidate, formatSeconds, type ScaleCandidate } from "./scale-candidate.js";

export interface StabilizationInput {
  readonly fleetWorkers: number;
  readonly nowMs: number;
  readonly up: Pick<DirectionBehavior, "stabilizationSec">;
  readonly down: Pick<DirectionBehavior, "stabilizationSec">;
  /** Earlier raw recommendations; the current one is the candidate. */
  readonly recommendations: readonly RecommendationRecord[];
}

export function stabilize(candidate: ScaleCandidate, input: StabilizationInput): ScaleCandidate {
  const raw = candidate.workers;
  const upCutoffMs = input.nowMs - input.up.stabilizationSec * 1000;
  const downCutoffMs = input.nowMs - input.down.stabilizationSec * 1000;
  let lowestUp = raw;
  let highestDown = raw;
  for (const record of input.recommendations) {
    // Strictly newer than the cutoff, as the HPA's timestamp.After(cutoff): a window of 0 holds only the current one.
    if (record.atMs > upCutoffMs) lowestUp = Math.min(lowestUp, record.workers);
    if (record.atMs > downCutoffMs) highestDown = Math.max(highestDown, record.workers);
  }
  const workers = Math.min(Math.max(input.fleetWorkers, lowestUp), highestDown);
  if (workers === raw) return candidate;
  return raw > input.fleetWorkers
    ? adjustCandidate(
        candidate,
        workers,
        "ScaleUpStabilized",
        `held at ${workers} by the lowest recommendation (${lowestUp}) of the last ${formatSeconds(input.up.stabilizationSec)} s (scale_up_stabilization_sec)`,
      )
    : adjustCandidate(
        candidate,
        workers,
        "ScaleDownStabilized",
        `held at ${workers} by the highest recommendation (${highestDown}) of the last ${formatSeconds(input.down.stabilizationSec)} s (scale_down_stabilization_sec)`,
      );
}

/** The records the next call needs: those inside the longer window, plus this one. */
export function recordRecommendation(
  input: StabilizationInput,
  rawWorkers: number,
): RecommendationRecord[] {
  const longestWindowMs = Math.max(input.up.stabilizationSec, input.down.stabilizationSec) * 1000;
  const kept = input.recommendations.filter(
    (record) => record.atMs > input.nowMs - longestWindowMs,
  );
  return [...kept, { atMs: input.nowMs, workers: rawWorkers }];
}
