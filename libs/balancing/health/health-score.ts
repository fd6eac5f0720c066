// A worker's health score, 0..1 (1 = healthy), from what its outcomes say:
//
//   score = (1 - errorRate) × latencyFactor
//
//   errorRate       EWMA of failures (1) and successes (0) over outcomes,
//                   α = 2 / (errorWindowOutcomes + 1): about the last N outcomes.
//   latencyFactor   min(1, latencyToleranceRatio × fleetMedianMs / ownMs), from
//                   peak-EWMA latencies: 1 up to tolerance × the fleet's median,
//                   then inversely proportional (3× the median with tolerance
//                   1.5 gives 0.5). 1 while either figure is unknown.
//
// Liveness is not scored here: it is the coordinator's judgement (heartbeats
// renew a worker's lease there), and a worker it no longer holds alive leaves
// the view.

export interface HealthScoreOptions {
  readonly errorWindowOutcomes: number;
  readonly latencyToleranceRatio: number;
}

export const DEFAULT_HEALTH_SCORE_OPTIONS: HealthScoreOptions = {
  errorWindowOutcomes: 20,
  latencyToleranceRatio: 1.5,
};

export interface HealthScoreInputs {
  readonly errorRate: number;
  readonly latencyMs: number | undefined;
  readonly fleetMedianLatencyMs: number | undefined;
}

export function healthScore(inputs: HealthScoreInputs, options: HealthScoreOptions): number {
  const errorFactor = 1 - clampUnit(inputs.errorRate);
  const { latencyMs, fleetMedianLatencyMs } = inputs;
  const latencyFactor =
    latencyMs === undefined || fleetMedianLatencyMs === undefined || latencyMs <= 0
      ? 1
      : clampUnit((options.latencyToleranceRatio * fleetMedianLatencyMs) / latencyMs);
  return errorFactor * latencyFactor;
}

/** The new error rate after one outcome. */
export function updateErrorRate(
  errorRate: number,
  isSuccess: boolean,
  options: Pick<HealthScoreOptions, "errorWindowOutcomes">,
): number {
  const alpha = 2 / (Math.max(1, options.errorWindowOutcomes) + 1);
  return errorRate + alpha * ((isSuccess ? 0 : 1) - errorRate);
}

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function clampUnit(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}
