// The autoscaling policy's contract: what the coordinator's loop hands the
// pure policy every sync interval, and the decision it gets back. The policy
// is a function of (signals, config, state, now); the state it returns is
// what the next call needs (recent recommendations for the stabilization
// windows, recent scale events for the rate policies, the burst episode).

/** One measured signal of the whole fleet, each optional: a missing one takes no part in the decision. */
export interface ScalingSignals {
  /** (busy slots + pending tasks) / total slots of ready workers: in-flight and queued work count as load. */
  readonly slotUtilization?: number;
  /** Mean worker CPU use, as a fraction of one core. */
  readonly cpuUtilization?: number;
  /** Mean worker memory use, as a fraction of the memory each worker may use. */
  readonly memoryUtilization?: number;
  /** Tasks arriving per second (Assign accepted). */
  readonly requestRatePerSec?: number;
  /** Tasks waiting for a slot. */
  readonly pendingTasks: number;
  /** Tasks running or assigned right now. */
  readonly inFlightTasks: number;
}

/** What each signal should sit at; a target left out means that signal is not used. */
export interface ScalingTargets {
  readonly slotUtilization: number;
  readonly cpuUtilization?: number;
  readonly memoryUtilization?: number;
  /** Arrivals per second one worker should take. */
  readonly requestRatePerWorkerPerSec?: number;
  /** Pending tasks per worker that is acceptable (KEDA's queue-length target). */
  readonly pendingTasksPerWorker?: number;
}

export type Direction = "up" | "down";

/** HPA's scaling policy: at most `value` workers (or percent of the current count) per `periodSec`. */
export interface RatePolicy {
  readonly kind: "workers" | "percent";
  readonly value: number;
  readonly periodSec: number;
}

export interface DirectionBehavior {
  /** HPA stabilizationWindowSeconds: up takes the lowest, down the highest recommendation of this window. */
  readonly stabilizationSec: number;
  /** Ratio inside 1 ± tolerance is no reason to move (HPA: 0.1 both ways). */
  readonly tolerance: number;
  readonly policies: readonly RatePolicy[];
  /** HPA selectPolicy: the policy allowing the most change, the least, or no change at all in this direction. */
  readonly select: "max" | "min" | "disabled";
}

export interface AutoscaleConfig {
  readonly minWorkers: number;
  readonly maxWorkers: number;
  readonly targets: ScalingTargets;
  readonly up: DirectionBehavior;
  readonly down: DirectionBehavior;
  /** Least time after any scale action before a scale-down (scale-ups answer spikes and are limited by `up` instead). */
  readonly coolDownSec: number;
  /** Burst mode may go up to ceil(maxWorkers × burstFactor) ... */
  readonly burstFactor: number;
  /** ... for at most this long, then back to maxWorkers ... */
  readonly maxBurstDurationSec: number;
  /** ... and never above this, whatever else says. */
  readonly hardMaxWorkers: number;
  /** minWorkers 0 only shrinks the fleet to nothing when this is set; the first pending task wakes it. */
  readonly allowScaleToZero: boolean;
}

export interface RecommendationRecord {
  readonly atMs: number;
  readonly workers: number;
}

export interface ScaleEventRecord {
  readonly atMs: number;
  readonly fromWorkers: number;
  readonly toWorkers: number;
}

/** Carried from one decision to the next (start with emptyAutoscaleState()). Plain data, so it can be logged or stored. */
export interface AutoscaleState {
  /** Raw recommendations inside the longest stabilization window. */
  readonly recommendations: readonly RecommendationRecord[];
  /** Scale actions inside the longest rate-policy period. */
  readonly events: readonly ScaleEventRecord[];
  readonly lastScaleAtMs?: number;
  /** When the current burst episode began; absent outside one. */
  readonly burstStartedAtMs?: number;
  /** A burst that ran its full length: no new one until the load fits within maxWorkers again. */
  readonly isBurstSpent?: boolean;
}

export interface AutoscaleInput {
  readonly nowMs: number;
  /** Workers registered and healthy. The ratio rule's "current" (HPA counts ready pods). */
  readonly readyWorkers: number;
  /** Started by the provider but not registered and healthy yet. */
  readonly startingWorkers: number;
  readonly signals: ScalingSignals;
  readonly config: AutoscaleConfig;
  readonly state: AutoscaleState;
  /** The optimizer saw a burst in the arrival rate; enters burst mode like demand above maxWorkers does. */
  readonly isBurstDetected?: boolean;
  /**
   * Workers the optimizer's demand forecast calls for one worker start time
   * ahead. It can only raise the count (scale-down stays reactive and
   * stabilized); absent when the optimizer has no forecast or cannot be asked.
   */
  readonly predictedWorkers?: number;
  /** What the prediction rests on, for the decision's message ("demand forecast 9.2 slots in 3 s, holt, MAPE 6%"). */
  readonly predictionNote?: string;
  /**
   * Workers the forecast demand one worker start ahead needs at the target,
   * whether or not it crosses a threshold. With a trusted forecast
   * (predictionErrorRatio known and low) it may end a hold inside the band:
   * the fleet shrinks to what both the measured load and the forecast need.
   */
  readonly predictedDemandWorkers?: number;
  /** Recent error of the forecasts at their lead time, |actual − forecast| / max(actual, 1); above MAX_PREDICTION_ERROR_RATIO the forecast has no say. */
  readonly predictionErrorRatio?: number;
}

export type AutoscaleReason =
  | "ScaleUp"
  | "PredictiveScaleUp"
  | "PredictiveScaleDown"
  | "ScaleDown"
  | "WithinTolerance"
  | "WaitingForNewWorkers"
  | "ScaleUpStabilized"
  | "ScaleDownStabilized"
  | "ScaleUpLimited"
  | "ScaleDownLimited"
  | "CoolingDown"
  | "AtMinimum"
  | "AtMaximum"
  | "AtHardMaximum"
  | "BurstStarted"
  | "BurstEnded"
  | "ScaleToZero"
  | "WakeFromZero"
  | "DirectionDisabled";

export type AutoscaleMode = "normal" | "burst" | "zero";

/** What one signal alone asked for, so "why 7 workers?" has an answer per signal. */
export interface SignalProposal {
  readonly signal: keyof ScalingTargets;
  readonly value: number;
  readonly target: number;
  readonly workers: number;
}

export interface AutoscaleDecision {
  /** The count to converge on (the loop starts or stops the difference from ready + starting). */
  readonly desiredWorkers: number;
  /** What the signals alone asked for, before stabilization, rate limits and bounds. */
  readonly rawDesiredWorkers: number;
  readonly reason: AutoscaleReason;
  /** For a person, with the figures: "slot utilization 0.92 over target 0.55 asks for 6; limited to 4 by 2 workers per 60 s". */
  readonly message: string;
  readonly mode: AutoscaleMode;
  readonly proposals: readonly SignalProposal[];
  readonly state: AutoscaleState;
}
