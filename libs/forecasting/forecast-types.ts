// The forecasting library's contract (pure: no I/O, no clock; time comes in
// as epoch ms). Load history per signal in bounded memory, forecasts with
// their prediction intervals and their measured error, burst detection on
// the arrival rate, efficiency figures and capacity plans.

export interface Point {
  readonly atMs: number;
  readonly value: number;
}

/** One tier of the history: points averaged into buckets of resolutionSec, kept for retentionSec. */
export interface TierSpec {
  readonly resolutionSec: number;
  readonly retentionSec: number;
}

/** 1 s for an hour, 1 min for a day, 15 min for two weeks: about 6,000 buckets per signal at most. */
export const DEFAULT_TIERS: readonly TierSpec[] = [
  { resolutionSec: 1, retentionSec: 3600 },
  { resolutionSec: 60, retentionSec: 86_400 },
  { resolutionSec: 900, retentionSec: 14 * 86_400 },
];

/** A bucket as stored: the mean of what fell in it, and how many values did. */
export interface Bucket {
  readonly startMs: number;
  readonly sum: number;
  readonly count: number;
}

/** Plain data, so the optimizer can persist it and read it back after a restart. */
export interface SignalHistorySnapshot {
  readonly tiers: readonly { readonly spec: TierSpec; readonly buckets: readonly Bucket[] }[];
}

export interface ForecastPoint {
  readonly atMs: number;
  readonly value: number;
  /** The prediction interval at the forecast's confidence. */
  readonly lower: number;
  readonly upper: number;
}

export type ForecastModel = "naive" | "holt" | "holt-winters";

export interface Forecast {
  readonly model: ForecastModel;
  readonly stepSec: number;
  /** Fraction, e.g. 0.8 or 0.95. */
  readonly confidence: number;
  readonly points: readonly ForecastPoint[];
  /** Mean absolute percentage error of the model's one-step-ahead fits over the history it saw (undefined when it cannot be measured). */
  readonly mape?: number;
  /** Points the model was fitted on. */
  readonly fittedOn: number;
  /** For a person: which model and why ("holt-winters: 2 days of history, daily season"), the error. */
  readonly message: string;
}

export interface BurstEvent {
  readonly kind: "start" | "end";
  readonly atMs: number;
  /** The arrival rate at the event and the baseline it was compared with. */
  readonly rate: number;
  readonly baseline: number;
  readonly message: string;
}

export interface EfficiencyFigures {
  readonly fromMs: number;
  readonly toMs: number;
  /** Busy slot-seconds over available slot-seconds. */
  readonly slotUtilization: number;
  /** Worker-seconds with no task running. */
  readonly idleWorkerSeconds: number;
  readonly workerSeconds: number;
  /** Tasks finished per worker-second. */
  readonly tasksPerWorkerSecond: number;
}

export interface CapacityPlan {
  readonly horizonSec: number;
  /** The forecast's highest point of demand (busy slots) over the horizon, and its upper bound. */
  readonly peakAtMs: number;
  readonly peakDemand: number;
  readonly peakDemandUpper: number;
  /** Workers that hold the upper peak at the target utilization. */
  readonly workersNeeded: number;
  readonly maxWorkers: number;
  readonly isMaxSufficient: boolean;
  /** One line for a person: "peak 42 busy slots (≤ 51) at 14:00: 13 workers at 0.55; max_workers 10 is short by 3". */
  readonly recommendation: string;
}
