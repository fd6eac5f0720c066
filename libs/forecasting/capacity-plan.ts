// A capacity plan from a demand forecast: the peak over the horizon, the
// workers that hold its upper bound at the target utilization, and whether
// max_workers suffices, in one line a person can act on. Sized on the upper
// bound, not the point forecast, because being short costs queueing while
// being over costs only idle workers until scale-down.
import type { CapacityPlan, Forecast, ForecastPoint } from "./forecast-types.js";

export interface CapacityPlanInput {
  /** A forecast of demand: busy slots plus pending tasks. */
  readonly forecast: Forecast;
  readonly slotsPerWorker: number;
  /** Fraction of the slots the fleet should run busy at the peak, e.g. 0.55. */
  readonly targetUtilization: number;
  readonly maxWorkers: number;
  readonly nowMs: number;
  /** How the peak's time reads in the recommendation; "14:00 UTC" by default. */
  readonly formatTime?: (atMs: number) => string;
}

/** Floating-point slack: 6.3 slots of demand at 0.7 of 3 per worker is 3 workers (6.3 / 2.1 = 3.0000000000000004), not 4. */
const EPSILON = 1e-9;

export function planCapacity(input: CapacityPlanInput): CapacityPlan {
  const { forecast, slotsPerWorker, targetUtilization, maxWorkers, nowMs } = input;
  if (!(slotsPerWorker > 0))
    throw new RangeError(`slotsPerWorker must be positive, not ${slotsPerWorker}`);
  if (!(targetUtilization > 0 && targetUtilization <= 1))
    throw new RangeError(`targetUtilization must be in (0, 1], not ${targetUtilization}`);

  // Points already past say nothing about what is coming; corrupt ones say nothing at all.
  const ahead = forecast.points.filter(
    (p) => p.atMs >= nowMs && Number.isFinite(p.value) && Number.isFinite(p.upper),
  );
  const peak = highestPoint(ahead);
  if (peak === undefined) {
    const recommendation = `no forecast points ahead of now (${forecast.model}, ${forecast.points.length} points): nothing to plan; max_workers ${maxWorkers} stands`;
    return {
      horizonSec: 0,
      peakAtMs: nowMs,
      peakDemand: 0,
      peakDemandUpper: 0,
      workersNeeded: 0,
      maxWorkers,
      isMaxSufficient: true,
      recommendation,
    };
  }

  const peakDemandUpper = Math.max(...ahead.map((p) => Math.max(p.upper, p.value)));
  const workersNeeded = Math.max(
    0,
    Math.ceil(peakDemandUpper / (slotsPerWorker * targetUtilization) - EPSILON),
  );
  const isMaxSufficient = workersNeeded <= maxWorkers;
  const horizonSec = (Math.max(...ahead.map((p) => p.atMs)) - nowMs) / 1000;
  const formatTime = input.formatTime ?? ((atMs: number) => formatUtc(atMs, nowMs));

  const peakText = `peak demand ${formatFigure(peak.value)} slots (≤ ${formatFigure(peakDemandUpper)} at ${formatFigure(forecast.confidence * 100)}%) at ${formatTime(peak.atMs)} ${formatWhen((peak.atMs - nowMs) / 1000)}`;
  const sizeText = `${workersNeeded} ${workersNeeded === 1 ? "worker" : "workers"} of ${formatFigure(slotsPerWorker)} slots at ${targetUtilization.toFixed(2)} utilization`;
  const maxText = isMaxSufficient
    ? workersNeeded === maxWorkers
      ? `max_workers ${maxWorkers} is just enough`
      : `max_workers ${maxWorkers} suffices with ${maxWorkers - workersNeeded} to spare`
    : `max_workers ${maxWorkers} is short by ${workersNeeded - maxWorkers}: raise it or expect queueing`;
  return {
    horizonSec,
    peakAtMs: peak.atMs,
    peakDemand: peak.value,
    peakDemandUpper,
    workersNeeded,
    maxWorkers,
    isMaxSufficient,
    recommendation: `${peakText}: ${sizeText}; ${maxText}`,
  };
}

/** The earliest of the points with the highest value. */
function highestPoint(points: readonly ForecastPoint[]): ForecastPoint | undefined {
  let highest: ForecastPoint | undefined;
  for (const point of points) {
    if (
      highest === undefined ||
      point.value > highest.value ||
      (point.value === highest.value && point.atMs < highest.atMs)
    )
      highest = point;
  }
  return highest;
}

/** "14:00 UTC" within a day of now, with the date beyond: a two-week forecast's peak needs its day. */
function formatUtc(atMs: number, nowMs: number): string {
  const iso = new Date(atMs).toISOString();
  const time = `${iso.slice(11, 16)} UTC`;
  return atMs - nowMs < 86_400_000 ? time : `${iso.slice(0, 10)} ${time}`;
}

/** "now", "in 45 min", "in 3 h", "in 2.5 d". */
function formatWhen(seconds: number): string {
  if (seconds < 60) return "now";
  if (seconds < 3600) return `in ${Math.round(seconds / 60)} min`;
  if (seconds < 2 * 86_400) return `in ${formatFigure(seconds / 3600)} h`;
  return `in ${formatFigure(seconds / 86_400)} d`;
}

function formatFigure(value: number): string {
  return String(Number(value.toFixed(1)));
}
