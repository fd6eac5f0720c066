// Predictive vs reactive scaling in simulated time, scalemesh's side:
// synthetic arrival-rate traces (scaling-traces.ts) replayed through the code
// the services run: the coordinator's policy (libs/scaling decideScale with
// the coordinator's own config mapping and loop rules) and, for the
// predictive policy, the optimizer's own forecaster (its demand forecast one
// worker start ahead, and burst detection on the arrival rate). The fleet is
// fleet-sim.ts's fluid model; the HPA and KEDA drive the same fleet in
// anchor-controllers.ts; autoscaler-comparison.ts runs them all and prints
// the tables.
import { configSchema, type Config } from "../../libs/config/index.js";
import {
  EMPTY_LEAD_ERROR,
  fitSeasonalShape,
  forecastAlongSeason,
  recordLeadForecast,
  scoreLeadForecasts,
  type LeadErrorState,
  type Point,
  type SeasonalShape,
} from "../../libs/forecasting/index.js";
import {
  decideScale,
  emptyAutoscaleState,
  type AutoscaleInput,
  type AutoscaleState,
  type ScalingSignals,
} from "../../libs/scaling/index.js";
import {
  autoscalePolicyOf,
  hardMaxWorkersOf,
} from "../../services/coordinator/autoscale-policy-config.js";
import { createForecaster } from "../../services/optimizer/forecaster.js";
import {
  DEFAULT_MODEL,
  openingRateOf,
  runFleet,
  type FleetCommand,
  type FleetController,
  type FleetModel,
  type FleetOutcome,
  type FleetView,
} from "./fleet-sim.js";
import { DAY_SEC, type Trace, type TraceName } from "./scaling-traces.js";

export { DEFAULT_MODEL, type FleetModel } from "./fleet-sim.js";
export {
  buildTrace,
  constantTrace,
  TRACE_NAMES,
  type Trace,
  type TraceName,
} from "./scaling-traces.js";

/**
 * predictive-optimizer: the coordinator as deployed today, steered by the
 * optimizer's recommendation (a short Holt forecast, scale-ups only).
 * predictive: the policy of issue 16 over the same libs: the seasonal shape
 * (libs/forecasting seasonal-ahead) once two seasons are held, else the
 * optimizer's forecast; its lead-time error tracked (lead-error) and passed
 * to decideScale, which ignores a forecast that has been wrong and lets one
 * that has been right end a hold inside the band (predictive-step).
 */
export type ScalemeshPolicy = "reactive" | "predictive-optimizer" | "predictive";

export interface PolicyOutcome extends FleetOutcome {
  readonly trace: TraceName;
  readonly policy: string;
}

/** The coordinator's settings: the defaults (thresholds 0.3/0.8, 300 s down stabilization, 4 workers/100% per 15 s up, 60 s cool-down, 15 s sync) with room for the traces' peaks. */
export function benchConfig(): Config {
  return configSchema.parse({ scaling: { min_workers: 1, max_workers: 50 } });
}

export const EPOCH_MS = Date.UTC(2025, 0, 6); // a Monday, 00:00 UTC: the seasonal traces' days start at midnight
/** The coordinator's lead time before any worker start was measured (autoscaler.ts predictNow). */
const UNMEASURED_START_SEC = 5;
/** Early syncs on a queue come at most this often (autoscaler.ts EARLY_SYNC_GAP_MS). */
const EARLY_SYNC_GAP_SEC = 1;
/** The seasonal shape's step and refit period: a 5-minute step keeps a weekly fit to 4,032 points (~70 ms). */
const SEASON_STEP_SEC = 300;
const REFIT_SEC = 3600;
/** The level the season's shape carries forward: the mean demand of the last minute. */
const LEVEL_SEC = 60;
/** Forecasts are asked for from this long before the measured part (before it, the run only fills the history): it bounds the weekly trace's cost. */
const PREDICT_BEFORE_MEASURED_SEC = 3600;
const EMPTY = 1e-9;

/** The fleet size that serves a rate at the coordinator's target utilization. */
export function workersForRate(ratePerSec: number, model: FleetModel, config: Config): number {
  const target = autoscalePolicyOf(config).targets.slotUtilization;
  return Math.max(
    0,
    Math.ceil((ratePerSec * model.taskSec) / (model.slotsPerWorker * target) - 1e-9),
  );
}

export function simulatePolicy(options: {
  trace: Trace;
  policy: ScalemeshPolicy;
  model?: FleetModel;
  config?: Config;
  initialWorkers?: number;
}): PolicyOutcome {
  const { trace, policy } = options;
  const model = options.model ?? DEFAULT_MODEL;
  const config = options.config ?? benchConfig();
  const initialWorkers =
    options.initialWorkers ?? workersForRate(openingRateOf(trace), model, config);
  const controller = createScalemeshController({ trace, policy, model, config });
  return { trace: trace.name, policy, ...runFleet({ trace, model, initialWorkers, controller }) };
}

/** The coordinator's loop over decideScale: a sync every sync_interval_sec, early ones while tasks queue, the optimizer fed one sample per interval. */
export function createScalemeshController(options: {
  trace: Trace;
  policy: ScalemeshPolicy;
  model: FleetModel;
  config: Config;
}): FleetController {
  const { trace, policy, model, config } = options;
  const policyConfig = autoscalePolicyOf(config);
  const target = policyConfig.targets.slotUtilization;
  const hardMaxWorkers = hardMaxWorkersOf(config);
  const { slotsPerWorker: k, workerStartSec } = model;
  const syncSec = config.scaling.sync_interval_sec;
  const predictFromSec = Math.max(0, trace.measureFromSec - PREDICT_BEFORE_MEASURED_SEC);
  const workersFor = (demandSlots: number): number =>
    Math.min(hardMaxWorkers, Math.max(0, Math.ceil(demandSlots / (k * target) - 1e-9)));
  const forecaster =
    policy === "reactive"
      ? undefined
      : createForecaster({
          policy: {
            windowSec: config.optimizer.window_sec,
            minWorkers: config.scaling.min_workers,
            maxWorkers: config.scaling.max_workers,
            scaleUpThreshold: config.scaling.scale_up_threshold,
            scaleDownThreshold: config.scaling.scale_down_threshold,
          },
          hardMaxWorkers,
        });
  const seasonal = policy === "predictive" ? createSeasonalPredictor() : undefined;
  let leadError: LeadErrorState = EMPTY_LEAD_ERROR;
  let state: AutoscaleState = emptyAutoscaleState();
  let nextSyncSec = 0;
  let lastEarlySyncSec = -Infinity;
  let previousSync: { atSec: number; arrived: number } | undefined;
  let nextObserveSec = syncSec;
  let observed = { atSec: 0, arrived: 0, served: 0 };

  const observe = (v: FleetView): void => {
    // The coordinator's load reporter: one sample every sync interval, rates averaged since the last one.
    const elapsedSec = v.tSec - observed.atSec;
    const record = {
      observedAtMs: EPOCH_MS + v.tSec * 1000,
      workers: v.readyWorkers,
      totalSlots: v.readyWorkers * k,
      busySlots: Math.min(v.busy, v.readyWorkers * k),
      pendingTasks: v.queue,
      meanCpuUtilization: v.readyWorkers > 0 ? v.busy / (v.readyWorkers * k) : 0,
      arrivalRatePerSec: (v.arrivedTasks - observed.arrived) / elapsedSec,
      completionRatePerSec: (v.servedTasks - observed.served) / elapsedSec,
    };
    forecaster?.observe(record);
    seasonal?.observe(record.observedAtMs, record.busySlots + record.pendingTasks);
    if (seasonal)
      leadError = scoreLeadForecasts(leadError, {
        nowMs: record.observedAtMs,
        demand: record.busySlots + record.pendingTasks,
      });
    observed = { atSec: v.tSec, arrived: v.arrivedTasks, served: v.servedTasks };
  };

  const sync = (v: FleetView, isRegular: boolean): FleetCommand => {
    const t = v.tSec;
    const nowMs = EPOCH_MS + t * 1000;
    const totalSlots = v.readyWorkers * k;
    const elapsedSec = previousSync ? t - previousSync.atSec : 0;
    const signals: ScalingSignals = {
      pendingTasks: v.queue,
      inFlightTasks: v.busy,
      ...(totalSlots > 0 ? { slotUtilization: (v.busy + v.queue) / totalSlots } : {}),
      ...(previousSync && elapsedSec > 0
        ? { requestRatePerSec: (v.arrivedTasks - previousSync.arrived) / elapsedSec }
        : {}),
    };
    previousSync = { atSec: t, arrived: v.arrivedTasks };
    let prediction: PredictionInput | undefined;
    let forecast: FleetCommand["forecast"];
    if (forecaster && t >= predictFromSec) {
      const leadTimeSec = (v.startsCompleted > 0 ? workerStartSec : UNMEASURED_START_SEC) + syncSec;
      const recommendation = forecaster.recommend(nowMs, leadTimeSec);
      const atLead = recommendation.forecast?.points.at(-1);
      const alongSeason = seasonal?.predict(nowMs, leadTimeSec);
      // No forecast yet: the coordinator's predictor rejects and the loop goes on reactively.
      if (atLead || alongSeason) {
        const chosen = alongSeason ?? {
          atSec: ((atLead?.atMs ?? nowMs) - EPOCH_MS) / 1000,
          value: atLead?.value ?? 0,
        };
        // Scored once per sync interval: early syncs between two samples ask the same forecast again.
        if (isRegular) {
          forecast = { atSec: chosen.atSec, value: chosen.value };
          if (seasonal)
            leadError = recordLeadForecast(leadError, {
              dueMs: EPOCH_MS + chosen.atSec * 1000,
              value: chosen.value,
            });
        }
        prediction = seasonal
          ? {
              // The optimizer's rule on the chosen forecast: ask ahead only for a demand that would take today's fleet past scale_up_threshold.
              predictedWorkers:
                chosen.value / Math.max(1, v.readyWorkers * k) > config.scaling.scale_up_threshold
                  ? workersFor(chosen.value)
                  : 0,
              predictedDemandWorkers: workersFor(chosen.value),
              ...(leadError.errorRatio !== undefined
                ? { predictionErrorRatio: leadError.errorRatio }
                : {}),
              isBurstDetected: recommendation.isBurstDetected,
            }
          : {
              predictedWorkers: recommendation.predictedWorkers,
              isBurstDetected: recommendation.isBurstDetected,
            };
      }
    }
    const decision = decideScale({
      nowMs,
      readyWorkers: v.readyWorkers,
      startingWorkers: v.startingWorkers,
      signals,
      config: policyConfig,
      state,
      ...(prediction ?? {}),
    });
    state = decision.state;
    return {
      desiredWorkers: decision.desiredWorkers,
      isPredictive: decision.reason === "PredictiveScaleUp",
      ...(forecast ? { forecast } : {}),
    };
  };

  return {
    decide(v) {
      if (forecaster && v.tSec >= nextObserveSec) {
        observe(v);
        nextObserveSec += syncSec;
      }
      if (v.tSec >= nextSyncSec) {
        nextSyncSec += syncSec;
        return sync(v, true);
      }
      if (v.queue > EMPTY && v.tSec - lastEarlySyncSec >= EARLY_SYNC_GAP_SEC) {
        // Tasks queuing mean the fleet is full now: the loop looks again early (source.onQueued).
        lastEarlySyncSec = v.tSec;
        return sync(v, false);
      }
      return undefined;
    },
  };
}

type PredictionInput = Pick<
  AutoscaleInput,
  "predictedWorkers" | "predictedDemandWorkers" | "predictionErrorRatio" | "isBurstDetected"
>;

/**
 * The seasonal forecast one lead time ahead: 5-minute means of the demand
 * the optimizer is fed (three weeks at most), a weekly season once two weeks
 * are held, else a daily one once two days are, refitted every REFIT_SEC; the
 * last minute's mean demand carried along the fitted shape
 * (forecastAlongSeason). Undefined before two days: the optimizer's own
 * forecast stands then.
 */
function createSeasonalPredictor() {
  const steps: Point[] = [];
  const recent: Point[] = [];
  let current: { startMs: number; sum: number; count: number } | undefined;
  let shape: { refitIndex: number; fit: SeasonalShape | undefined } | undefined;
  const stepMs = SEASON_STEP_SEC * 1000;
  const maxSteps = (21 * DAY_SEC) / SEASON_STEP_SEC;
  const heldSec = (): number => steps.length * SEASON_STEP_SEC;
  return {
    observe(atMs: number, demand: number): void {
      recent.push({ atMs, value: demand });
      while ((recent[0]?.atMs ?? atMs) < atMs - LEVEL_SEC * 1000) recent.shift();
      const startMs = Math.floor(atMs / stepMs) * stepMs;
      if (current && current.startMs !== startMs) {
        steps.push({ atMs: current.startMs, value: current.sum / current.count });
        if (steps.length > maxSteps) steps.shift();
        current = undefined;
      }
      current = current
        ? { ...current, sum: current.sum + demand, count: current.count + 1 }
        : { startMs, sum: demand, count: 1 };
    },
    predict(nowMs: number, leadTimeSec: number): { atSec: number; value: number } | undefined {
      const seasonSec =
        heldSec() >= 14 * DAY_SEC ? 7 * DAY_SEC : heldSec() >= 2 * DAY_SEC ? DAY_SEC : undefined;
      if (seasonSec === undefined || recent.length === 0) return undefined;
      const refitIndex = Math.floor(nowMs / (REFIT_SEC * 1000));
      if (shape?.refitIndex !== refitIndex)
        shape = {
          refitIndex,
          fit: fitSeasonalShape(steps, {
            stepSec: SEASON_STEP_SEC,
            seasonSec,
            horizonSec: REFIT_SEC + leadTimeSec + SEASON_STEP_SEC,
            nowMs,
          }),
        };
      if (!shape.fit) return undefined;
      const measuredNow = recent.reduce((sum, p) => sum + p.value, 0) / recent.length;
      const value = forecastAlongSeason(shape.fit, { nowMs, leadTimeSec, measuredNow });
      return value === undefined
        ? undefined
        : { atSec: (nowMs - EPOCH_MS) / 1000 + leadTimeSec, value };
    },
  };
}
