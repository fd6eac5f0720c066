// Per-worker short-term load forecasts for the predictive strategy: each
// worker's in-flight count as the cluster view sees it change, and once a
// second a forecast of it predictiveHorizonMs ahead (libs/forecasting: Holt's
// trend over the last minute). The strategy reads it as forecastInFlight and
// ranks a worker whose load is climbing below one draining down.
import { forecastSignal, type Point } from "../../libs/forecasting/index.js";

export interface LoadForecasts {
  /** A worker's in-flight count changed (or was seen again) at atMs. */
  observe(workerId: string, atMs: number, inFlight: number): void;
  forget(workerId: string): void;
  /** Forecasts every worker horizonMs ahead; calls `publish` with each (undefined: not enough history). */
  refresh(
    nowMs: number,
    publish: (workerId: string, forecastInFlight: number | undefined) => void,
  ): void;
  /** Withdraws every forecast (publishes undefined for each worker), so none goes stale while nobody asks. */
  withdraw(publish: (workerId: string, forecastInFlight: undefined) => void): void;
}

/** The last minute at most, one point per 250 ms: a small, bounded series per worker. */
const WINDOW_MS = 60_000;
const MIN_GAP_MS = 250;

export function createLoadForecasts(options: { horizonMs: number }): LoadForecasts {
  const series = new Map<string, Point[]>();
  return {
    observe(workerId, atMs, inFlight) {
      const points = series.get(workerId) ?? [];
      const last = points.at(-1);
      if (last !== undefined && atMs - last.atMs < MIN_GAP_MS)
        points[points.length - 1] = { atMs: last.atMs, value: inFlight };
      else points.push({ atMs, value: inFlight });
      while (points.length > 0 && atMs - (points[0]?.atMs ?? atMs) > WINDOW_MS) points.shift();
      series.set(workerId, points);
    },
    forget(workerId) {
      series.delete(workerId);
    },
    withdraw(publish) {
      for (const workerId of series.keys()) publish(workerId, undefined);
    },
    refresh(nowMs, publish) {
      const horizonSteps = Math.max(1, Math.round(options.horizonMs / 1000));
      for (const [workerId, points] of series) {
        // The count holds until it changes: carry the last value up to now so a quiet worker is not read as a gap.
        const last = points.at(-1);
        const upToNow =
          last && nowMs > last.atMs ? [...points, { atMs: nowMs, value: last.value }] : points;
        if (upToNow.length < 3) {
          publish(workerId, undefined);
          continue;
        }
        const forecast = forecastSignal(upToNow, {
          stepSec: 1,
          horizonSteps,
          confidence: 0.8,
          nowMs,
        });
        publish(workerId, forecast.points.at(-1)?.value);
      }
    },
  };
}
