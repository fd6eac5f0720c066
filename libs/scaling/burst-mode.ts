// Burst mode: when the stabilized demand outgrows max_workers (or the
// optimizer flags a burst in the arrival rate), the ceiling rises to
// ceil(max_workers × burst_factor), hard_max_workers at most, for
// max_burst_duration_sec from the episode's start. Then the episode ends
// whatever the load, and a spent burst cannot start again until the raw
// demand fits within max_workers: a load that stays high is the new normal,
// to be met by raising max_workers, not by bursting back to back.
import type { AutoscaleConfig, AutoscaleState } from "./autoscale-types.js";
import {
  adjustCandidate,
  ceilCount,
  formatSeconds,
  type ScaleCandidate,
} from "./scale-candidate.js";

/** "started" and "ended" only in the decision that starts or ends the episode. */
export type BurstPhase = "normal" | "started" | "burst" | "ended";

type BurstConfig = Pick<
  AutoscaleConfig,
  "maxWorkers" | "burstFactor" | "maxBurstDurationSec" | "hardMaxWorkers"
>;

export interface BurstInput {
  readonly nowMs: number;
  /** What the signals asked for: only demand that fits within max_workers forgives a spent burst. */
  readonly rawWorkers: number;
  readonly config: BurstConfig;
  readonly state: Pick<AutoscaleState, "burstStartedAtMs" | "isBurstSpent">;
  readonly isBurstDetected: boolean;
}

export interface BurstOutcome {
  readonly candidate: ScaleCandidate;
  readonly phase: BurstPhase;
  readonly burstStartedAtMs?: number;
  readonly isBurstSpent: boolean;
}

/** The most workers a burst may reach. */
export function burstCeilingOf(
  config: Pick<AutoscaleConfig, "maxWorkers" | "burstFactor" | "hardMaxWorkers">,
): number {
  return Math.min(ceilCount(config.maxWorkers * config.burstFactor), config.hardMaxWorkers);
}

/** `candidate` is the stabilized demand: one noisy sample should not start a burst. */
export function advanceBurst(candidate: ScaleCandidate, input: BurstInput): BurstOutcome {
  const { config, nowMs } = input;
  const startedAtMs = input.state.burstStartedAtMs;

  if (startedAtMs !== undefined && nowMs - startedAtMs >= config.maxBurstDurationSec * 1000) {
    // The bounds say "back to max_workers" when the ceiling bites.
    const note = `burst mode ended after ${formatSeconds((nowMs - startedAtMs) / 1000)} s (max_burst_duration_sec ${formatSeconds(config.maxBurstDurationSec)})`;
    return {
      candidate: adjustCandidate(candidate, candidate.workers, "BurstEnded", note),
      phase: "ended",
      isBurstSpent: true,
    };
  }
  if (startedAtMs !== undefined)
    return { candidate, phase: "burst", burstStartedAtMs: startedAtMs, isBurstSpent: false };

  const fitsAgain = input.rawWorkers <= config.maxWorkers && !input.isBurstDetected;
  const isSpent = (input.state.isBurstSpent ?? false) && !fitsAgain;
  const ceiling = burstCeilingOf(config);
  const isDemandAboveMax = candidate.workers > config.maxWorkers;
  if (isSpent || ceiling <= config.maxWorkers || !(isDemandAboveMax || input.isBurstDetected)) {
    return { candidate, phase: "normal", isBurstSpent: isSpent };
  }
  const cause = isDemandAboveMax
    ? `demand ${candidate.workers} is above max_workers ${config.maxWorkers}`
    : "the optimizer detected a burst";
  const note = `${cause}: burst mode allows up to ${ceiling} (burst_factor ${config.burstFactor}) for ${formatSeconds(config.maxBurstDurationSec)} s`;
  return {
    candidate: adjustCandidate(candidate, candidate.workers, "BurstStarted", note),
    phase: "started",
    burstStartedAtMs: nowMs,
    isBurstSpent: false,
  };
}
