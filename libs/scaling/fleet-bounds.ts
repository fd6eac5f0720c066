// min_workers, max_workers (or the burst ceiling) and hard_max_workers, last
// of the limits because they hold whatever the windows and rates say: the
// end of a burst brings the fleet back under max_workers at once, and no mode
// ever goes above hard_max_workers. min_workers 0 empties the fleet only when
// scale_to_zero is set; otherwise an idle fleet keeps one worker.
import type { AutoscaleConfig, AutoscaleReason } from "./autoscale-types.js";
import type { BurstPhase } from "./burst-mode.js";
import { adjustCandidate, ceilCount, type ScaleCandidate } from "./scale-candidate.js";

export interface UpperBound {
  readonly workers: number;
  readonly reason: AutoscaleReason;
  /** What the message says when this bound bites. */
  readonly note: string;
}

type BoundsConfig = Pick<
  AutoscaleConfig,
  "minWorkers" | "maxWorkers" | "hardMaxWorkers" | "burstFactor" | "allowScaleToZero"
>;

export function upperBoundOf(config: BoundsConfig, phase: BurstPhase): UpperBound {
  const isBursting = phase === "started" || phase === "burst";
  const nominal = isBursting
    ? ceilCount(config.maxWorkers * config.burstFactor)
    : config.maxWorkers;
  if (config.hardMaxWorkers < nominal) {
    return {
      workers: config.hardMaxWorkers,
      reason: "AtHardMaximum",
      note: `held at hard_max_workers ${config.hardMaxWorkers}`,
    };
  }
  switch (phase) {
    // The episode that raised the ceiling is the reason when its ceiling bites.
    case "started":
      return {
        workers: nominal,
        reason: "BurstStarted",
        note: `held at the burst ceiling ${nominal}`,
      };
    case "burst":
      return {
        workers: nominal,
        reason: "AtMaximum",
        note: `held at the burst ceiling ${nominal} (max_workers ${config.maxWorkers} × burst_factor ${config.burstFactor})`,
      };
    case "ended":
      return {
        workers: config.maxWorkers,
        reason: "BurstEnded",
        note: `back to max_workers ${config.maxWorkers} at once`,
      };
    case "normal":
      return {
        workers: config.maxWorkers,
        reason: "AtMaximum",
        note: `held at max_workers ${config.maxWorkers}`,
      };
    default: {
      const unknown: never = phase;
      throw new Error(`unknown burst phase ${String(unknown)}`);
    }
  }
}

export interface BoundsInput {
  readonly fleetWorkers: number;
  readonly config: BoundsConfig;
  readonly upper: UpperBound;
}

export function applyBounds(candidate: ScaleCandidate, input: BoundsInput): ScaleCandidate {
  const { config, upper, fleetWorkers } = input;
  if (candidate.workers > upper.workers)
    return adjustCandidate(candidate, upper.workers, upper.reason, upper.note);

  const keepsOne = config.minWorkers === 0 && !config.allowScaleToZero && fleetWorkers > 0;
  // hard_max_workers wins over a min_workers above it.
  const floor = Math.min(keepsOne ? 1 : config.minWorkers, upper.workers);
  if (candidate.workers < floor) {
    const note = keepsOne
      ? "held at 1: min_workers is 0 but scale_to_zero is off"
      : `held at min_workers ${floor}`;
    return adjustCandidate(candidate, floor, "AtMinimum", note);
  }
  if (candidate.workers === 0 && fleetWorkers > 0)
    return adjustCandidate(
      candidate,
      0,
      "ScaleToZero",
      "scaling to zero (scale_to_zero): the first task wakes the fleet",
    );
  return candidate;
}
