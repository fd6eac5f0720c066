// Predictive: rank by each worker's forecast free share, 1 - forecast/slots.
// The forecast is the optimizer's (health.forecastInFlight) when it has one,
// else the worker's own trend: in-flight samples taken at each decision over
// predictiveWindowMs, the least-squares slope projected predictiveHorizonMs
// ahead. So a worker whose load is climbing loses to one that is draining
// down, before either is full. Samples are kept at each committed
// placement; a ranking uses them with the current load added, keeping nothing.
import type { StrategyOptions } from "../strategy-options.js";
import type { Strategy } from "../strategy.js";
import { healthOrDefault, type RankedCandidate } from "../types.js";
import { addLoadSample, projectInFlight, type LoadTrend } from "./load-trend.js";
import { rankByScore } from "./order.js";

type PredictiveOptions = Pick<
  StrategyOptions,
  "predictiveHorizonMs" | "predictiveWindowMs" | "predictiveMaxSamples"
>;

export function createPredictive(options: PredictiveOptions): Strategy {
  const trends = new Map<string, LoadTrend>();
  const trendOptions = {
    windowMs: options.predictiveWindowMs,
    maxSamples: options.predictiveMaxSamples,
  };
  /** The worker's trend with this moment's sample added, without keeping it. */
  const trendNow = (workerId: string, inFlight: number, nowMs: number): LoadTrend =>
    addLoadSample(trends.get(workerId) ?? { samples: [] }, { atMs: nowMs, inFlight }, trendOptions);

  return {
    name: "predictive",
    rank(feasible, _request, { random, health, nowMs }): RankedCandidate[] {
      const forecastOf = (
        workerId: string,
        inFlight: number,
      ): { inFlight: number; source: string } => {
        const fromOptimizer = healthOrDefault(health, workerId).forecastInFlight;
        if (fromOptimizer !== undefined && Number.isFinite(fromOptimizer))
          return { inFlight: Math.max(0, fromOptimizer), source: "optimizer forecast" };
        return {
          inFlight: projectInFlight(
            inFlight,
            trendNow(workerId, inFlight, nowMs),
            options.predictiveHorizonMs,
          ),
          source: "own trend",
        };
      };
      const forecasts = new Map(
        feasible.map((w) => [w.workerId, forecastOf(w.workerId, w.inFlight)]),
      );
      const forecastFor = (workerId: string) =>
        forecasts.get(workerId) ?? { inFlight: 0, source: "none" };
      return rankByScore(
        feasible,
        (w) => (w.slots <= 0 ? 0 : 1 - forecastFor(w.workerId).inFlight / w.slots),
        random,
        (w) =>
          `${forecastFor(w.workerId).source}: ${forecastFor(w.workerId).inFlight.toFixed(1)}/${w.slots} in flight in ${options.predictiveHorizonMs / 1000}s`,
      );
    },
    commit({ eligible, nowMs }) {
      // Sample every eligible worker, full ones too: a full worker's climb is
      // part of its trend. Workers not seen for a whole window are forgotten.
      for (const worker of eligible)
        trends.set(worker.workerId, trendNow(worker.workerId, worker.inFlight, nowMs));
      for (const [workerId, trend] of trends) {
        const last = trend.samples.at(-1);
        if (last === undefined || nowMs - last.atMs > options.predictiveWindowMs)
          trends.delete(workerId);
      }
    },
  };
}
