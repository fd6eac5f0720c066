// The optimizer's state and answers: every load sample goes into the tiered
// history (one series per signal) and the burst detector; recommendations,
// forecasts and capacity plans are computed from them on demand with the pure
// code of libs/forecasting and libs/scaling. The whole state is plain data,
// so it is written to a file and read back after a restart.
import {
  createLoadHistoryStore,
  DEFAULT_TIERS,
  efficiencyOf,
  forecastSignal,
  initialBurstState,
  observeRate,
  planCapacity,
  restoreLoadHistoryStore,
  type BurstState,
  type CapacityPlan,
  type EfficiencyFigures,
  type Forecast,
  type SignalHistorySnapshot,
} from "../../libs/forecasting/index.js";
import {
  createLoadHistory,
  recommendWorkers,
  type LoadRecord,
  type Recommendation,
  type ScalingPolicy,
} from "../../libs/scaling/index.js";

export const FORECAST_SIGNALS = [
  "arrival_rate",
  "completion_rate",
  "demand",
  "busy_slots",
  "pending_tasks",
  "workers",
  "total_slots",
  "cpu",
] as const;
export type ForecastSignal = (typeof FORECAST_SIGNALS)[number];

const DAY_SEC = 86_400;
/** A day of samples for the efficiency figures, at most this many (one a second is 86,400; the default sync gives 5,760). */
const MAX_DAY_SAMPLES = 20_000;
/** The burst detector's floor on the rate's spread, in tasks per second. */
const MIN_BURST_SIGMA_PER_SEC = 1;
/** A demand forecast fitted on fewer points than this does not steer scaling (a fresh model's first guesses are wild). */
const MIN_FITTED_POINTS = 10;
/** The short-term forecast behind a recommendation looks this far back. */
const SHORT_LOOKBACK_SEC = 1800;

export interface ForecasterSnapshot {
  readonly version: 1;
  readonly signals: Record<string, SignalHistorySnapshot>;
  readonly burst: BurstState;
  readonly burstMessage?: string;
  readonly sampleGapMs: number;
  /** The last day's samples, for the efficiency figures and the reactive window. */
  readonly samples?: readonly LoadRecord[];
}

export interface PredictiveRecommendation extends Recommendation {
  readonly leadTimeSec: number;
  readonly predictedWorkers: number;
  readonly predictedDemand: number;
  readonly predictedDemandUpper: number;
  readonly forecast: Forecast | undefined;
  readonly isBurstDetected: boolean;
  readonly burstMessage: string;
}

export interface Forecaster {
  observe(record: LoadRecord): void;
  recommend(nowMs: number, leadTimeSec: number): PredictiveRecommendation;
  forecast(
    signal: ForecastSignal,
    options: { nowMs: number; horizonSec: number; stepSec?: number; confidence?: number },
  ): Forecast;
  capacityPlan(
    nowMs: number,
    horizonSec: number,
  ): { plan: CapacityPlan; efficiency: EfficiencyFigures; forecast: Forecast };
  snapshot(): ForecasterSnapshot;
}

export interface ForecasterOptions {
  readonly policy: ScalingPolicy;
  /** Never predict more than this (scaling's hard ceiling). */
  readonly hardMaxWorkers: number;
  readonly restored?: ForecasterSnapshot;
}

export function createForecaster(options: ForecasterOptions): Forecaster {
  const store = options.restored
    ? restoreLoadHistoryStore(options.restored.signals, { signals: FORECAST_SIGNALS })
    : createLoadHistoryStore(FORECAST_SIGNALS);
  let burst: BurstState = options.restored?.burst ?? initialBurstState();
  let lastBurstMessage = options.restored?.burstMessage ?? "";
  // How far apart samples arrive (the coordinator's sync interval): the short-term forecast's step.
  let sampleGapMs = options.restored?.sampleGapMs ?? 15_000;
  let lastSampleAtMs: number | undefined;
  const day = createLoadHistory({ maxSamples: MAX_DAY_SAMPLES, horizonSec: DAY_SEC });
  /** The reactive recommendation's window: the newest part of the day's samples. */
  const recentSamples = (nowMs: number): LoadRecord[] =>
    day
      .samples(nowMs)
      .filter((sample) => sample.observedAtMs >= nowMs - options.policy.windowSec * 1000);
  const target = (options.policy.scaleUpThreshold + options.policy.scaleDownThreshold) / 2;
  for (const record of options.restored?.samples ?? []) {
    day.append(record, record.observedAtMs);
  }

  const valuesOf = (record: LoadRecord): Record<ForecastSignal, number> => ({
    arrival_rate: record.arrivalRatePerSec,
    completion_rate: record.completionRatePerSec,
    demand: record.busySlots + record.pendingTasks,
    busy_slots: record.busySlots,
    pending_tasks: record.pendingTasks,
    workers: record.workers,
    total_slots: record.totalSlots,
    cpu: record.meanCpuUtilization,
  });

  const slotsPerWorker = (nowMs: number): number => {
    const latest = day.samples(nowMs).at(-1);
    return latest && latest.workers > 0 && latest.totalSlots > 0
      ? latest.totalSlots / latest.workers
      : 4;
  };

  /** Two days at 15 min steps exist: a forecast up to a day ahead can learn the daily season from them. */
  const hasTwoDays = (signal: ForecastSignal, nowMs: number): boolean => {
    const points = store
      .history(signal)
      .points({ fromMs: nowMs - 2 * DAY_SEC * 1000, toMs: nowMs, resolutionSec: 900 });
    return (points[0]?.atMs ?? nowMs) <= nowMs - 2 * DAY_SEC * 1000 + 900_000;
  };

  const forecast = (
    signal: ForecastSignal,
    request: { nowMs: number; horizonSec: number; stepSec?: number; confidence?: number },
  ): Forecast => {
    let stepSec = request.stepSec ?? defaultStepSec(request.horizonSec);
    // The 1 min tier keeps a day, too little for a daily season: with two days of history, plan in 15 min steps.
    if (request.stepSec === undefined && stepSec === 60 && hasTwoDays(signal, request.nowMs))
      stepSec = 900;
    // Within what the tier of that resolution keeps (a tier drops buckets at its retention): older points would be coarser buckets resampled into a staircase.
    const lookbackSec = Math.min(
      retentionAtSec(stepSec) - stepSec,
      Math.max(4 * request.horizonSec, stepSec * 50),
    );
    const points = store.history(signal).points({
      fromMs: request.nowMs - lookbackSec * 1000,
      toMs: request.nowMs,
      resolutionSec: stepSec,
    });
    const spanSec =
      points.length > 1 ? ((points.at(-1)?.atMs ?? 0) - (points[0]?.atMs ?? 0)) / 1000 : 0;
    // A daily season once two days of history exist at a step that can hold it.
    const seasonLengthSteps =
      spanSec >= 2 * DAY_SEC && stepSec >= 60 ? Math.round(DAY_SEC / stepSec) : undefined;
    return forecastSignal(points, {
      stepSec,
      horizonSteps: Math.max(1, Math.ceil(request.horizonSec / stepSec)),
      confidence: request.confidence ?? 0.95,
      nowMs: request.nowMs,
      ...(seasonLengthSteps !== undefined ? { seasonLengthSteps } : {}),
    });
  };

  return {
    observe(record) {
      const at = record.observedAtMs;
      for (const [signal, value] of Object.entries(valuesOf(record)))
        store.append(signal, at, value);
      if (lastSampleAtMs !== undefined && at > lastSampleAtMs)
        sampleGapMs = 0.8 * sampleGapMs + 0.2 * (at - lastSampleAtMs);
      lastSampleAtMs = at;
      day.append(record, at);
      // A rate of a few tasks a second is noise, not a burst, however flat the baseline was (an idle mesh's first trickle).
      const observed = observeRate(
        burst,
        { atMs: at, rate: record.arrivalRatePerSec },
        { minSigma: MIN_BURST_SIGMA_PER_SEC },
      );
      burst = observed.state;
      if (observed.event) lastBurstMessage = observed.event.message;
    },

    recommend(nowMs, leadTimeSec) {
      const reactive = recommendWorkers({
        ...options.policy,
        samples: recentSamples(nowMs),
        now: nowMs,
      });
      const stepSec = Math.max(1, Math.min(60, Math.round(sampleGapMs / 1000)));
      const points = store
        .history("demand")
        .points({ fromMs: nowMs - SHORT_LOOKBACK_SEC * 1000, toMs: nowMs, resolutionSec: 1 });
      const demandForecast =
        points.length > 0
          ? forecastSignal(points, {
              stepSec,
              horizonSteps: Math.max(1, Math.ceil(leadTimeSec / stepSec)),
              confidence: 0.8,
              nowMs,
            })
          : undefined;
      const atLead = demandForecast?.points.at(-1);
      const slots = slotsPerWorker(nowMs);
      const fleet = recentSamples(nowMs).at(-1)?.workers ?? 0;
      // The reactive rule applied to the forecast: only when the demand expected at the lead time would
      // take today's fleet past scale_up_threshold does the forecast ask for workers (sized to the target,
      // as the reactive rule sizes them). A rise the fleet absorbs anyway costs nothing ahead of time, and
      // a model fitted on a handful of points has no say yet.
      const isTrusted =
        demandForecast !== undefined && demandForecast.fittedOn >= MIN_FITTED_POINTS;
      const wouldCross =
        atLead !== undefined &&
        (fleet === 0 || atLead.value / (fleet * slots) > options.policy.scaleUpThreshold);
      const predictedWorkers =
        isTrusted && wouldCross && atLead && slots * target > 0
          ? Math.min(options.hardMaxWorkers, Math.ceil(atLead.value / (slots * target) - 1e-9))
          : 0;
      return {
        ...reactive,
        leadTimeSec,
        predictedWorkers: Math.max(0, predictedWorkers),
        predictedDemand: atLead?.value ?? 0,
        predictedDemandUpper: atLead?.upper ?? 0,
        forecast: demandForecast,
        isBurstDetected: burst.isBursting,
        burstMessage: burst.isBursting ? lastBurstMessage : "",
      };
    },

    forecast,

    capacityPlan(nowMs, horizonSec) {
      const demand = forecast("demand", { nowMs, horizonSec, confidence: 0.95 });
      const plan = planCapacity({
        forecast: demand,
        slotsPerWorker: slotsPerWorker(nowMs),
        targetUtilization: target,
        maxWorkers: options.policy.maxWorkers,
        nowMs,
      });
      const efficiency = efficiencyOf(day.samples(nowMs), nowMs - DAY_SEC * 1000, nowMs);
      return { plan, efficiency, forecast: demand };
    },

    snapshot: () => ({
      version: 1,
      signals: store.snapshot(),
      burst,
      burstMessage: lastBurstMessage,
      sampleGapMs,
      samples: day.samples(lastSampleAtMs ?? 0),
    }),
  };
}

/** How far back the history keeps points at least as fine as stepSec. */
function retentionAtSec(stepSec: number): number {
  // The coarsest tier still as fine as the step.
  const tier =
    [...DEFAULT_TIERS].reverse().find((t) => t.resolutionSec <= stepSec) ?? DEFAULT_TIERS[0];
  return tier?.retentionSec ?? 14 * DAY_SEC;
}

/** 1 s steps up to an hour ahead, 1 min up to a day, 15 min beyond: the history's tiers. */
export function defaultStepSec(horizonSec: number): number {
  if (horizonSec <= 3600) return 1;
  if (horizonSec <= DAY_SEC) return 60;
  return 900;
}
