// Predictive scaling (AWS predictive scaling's rule: scale out only, ahead
// of the forecast by the time capacity takes to arrive). When the demand
// forecast one worker start ahead needs more workers than the measured load
// asks for now, the fleet starts growing now, so the new workers are ready
// when the load comes. It never lowers a count: a forecast fall waits for the
// reactive, stabilized scale-down.
import { adjustCandidate, type ScaleCandidate } from "./scale-candidate.js";

export interface PredictiveInput {
  readonly fleetWorkers: number;
  readonly predictedWorkers?: number;
  readonly predictionNote?: string;
}

export function applyPrediction(candidate: ScaleCandidate, input: PredictiveInput): ScaleCandidate {
  const predicted = input.predictedWorkers;
  if (predicted === undefined || !Number.isFinite(predicted)) return candidate;
  const workers = Math.floor(predicted);
  if (workers <= candidate.workers || workers <= input.fleetWorkers) return candidate;
  return adjustCandidate(
    candidate,
    workers,
    "PredictiveScaleUp",
    `the forecast needs ${workers} ahead of the load${input.predictionNote ? ` (${input.predictionNote})` : ""}`,
  );
}
