// Predictive scaling. Up: AWS predictive scaling's rule, scale out ahead of
// the forecast by the time capacity takes to arrive. When the demand
// forecast one worker start ahead needs more workers than the measured load
// asks for now, the fleet starts growing now, so the new workers are ready
// when the load comes. Down: a forecast that has been right lately may end a
// hold inside the band (utilization between the thresholds), shrinking the
// fleet to what both the measured load and the forecast need at the target;
// the scale-down window, cool-down and rate policies still apply after it.
// A forecast whose recent error is high has no say either way: the policy is
// then the reactive one.
import type { ScalingSignals } from "./autoscale-types.js";
import { adjustCandidate, ceilCount, formatRatio, type ScaleCandidate } from "./scale-candidate.js";

/** Above this recent error at the lead time (|actual − forecast| / max(actual, 1)) a forecast is ignored. */
export const MAX_PREDICTION_ERROR_RATIO = 0.2;

export interface PredictiveInput {
  readonly fleetWorkers: number;
  readonly predictedWorkers?: number;
  readonly predictionNote?: string;
  readonly predictionErrorRatio?: number;
}

export function applyPrediction(candidate: ScaleCandidate, input: PredictiveInput): ScaleCandidate {
  const predicted = input.predictedWorkers;
  if (predicted === undefined || !Number.isFinite(predicted)) return candidate;
  const workers = Math.floor(predicted);
  if (workers <= candidate.workers || workers <= input.fleetWorkers) return candidate;
  if (isUntrusted(input.predictionErrorRatio))
    return {
      ...candidate,
      message: `${candidate.message}; the forecast's ${workers} ignored (${describeError(input.predictionErrorRatio)})`,
    };
  return adjustCandidate(
    candidate,
    workers,
    "PredictiveScaleUp",
    `the forecast needs ${workers} ahead of the load${input.predictionNote ? ` (${input.predictionNote})` : ""}`,
  );
}

export interface PredictiveFloorInput {
  readonly readyWorkers: number;
  readonly startingWorkers: number;
  readonly signals: ScalingSignals;
  readonly targetSlotUtilization: number;
  readonly predictedDemandWorkers?: number;
  readonly predictionErrorRatio?: number;
}

/** A trusted forecast ends a hold inside the band: down to what the measured load and the forecast need at the target. */
export function lowerByForecast(
  candidate: ScaleCandidate,
  input: PredictiveFloorInput,
): ScaleCandidate {
  const { readyWorkers, signals, predictedDemandWorkers, predictionErrorRatio } = input;
  const utilization = signals.slotUtilization;
  if (predictedDemandWorkers === undefined || !Number.isFinite(predictedDemandWorkers))
    return candidate;
  // Only a known, low error counts here: shrinking on a forecast nobody has checked is how fleets get caught short.
  if (predictionErrorRatio === undefined || isUntrusted(predictionErrorRatio)) return candidate;
  if (utilization === undefined || input.startingWorkers > 0 || candidate.workers !== readyWorkers)
    return candidate;
  const hasWork = signals.pendingTasks > 0 || signals.inFlightTasks > 0;
  const measured = ceilCount((readyWorkers * utilization) / input.targetSlotUtilization);
  const workers = Math.max(measured, Math.ceil(predictedDemandWorkers - 1e-9), hasWork ? 1 : 0);
  if (workers >= candidate.workers) return candidate;
  return adjustCandidate(
    candidate,
    workers,
    "PredictiveScaleDown",
    `the load (${measured} at target ${formatRatio(input.targetSlotUtilization)}) and the forecast (${Math.ceil(predictedDemandWorkers - 1e-9)} one start ahead, ${describeError(predictionErrorRatio)}) need only ${workers}`,
  );
}

function isUntrusted(errorRatio: number | undefined): boolean {
  return errorRatio !== undefined && !(errorRatio <= MAX_PREDICTION_ERROR_RATIO);
}

function describeError(errorRatio: number | undefined): string {
  return errorRatio === undefined
    ? "error not measured"
    : `recent error ${formatRatio(errorRatio)}, limit ${formatRatio(MAX_PREDICTION_ERROR_RATIO)}`;
}
