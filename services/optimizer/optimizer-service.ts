// The Optimizer service: Observe feeds the forecaster with the samples the
// coordinator streams; the other calls ask it for recommendations (reactive
// and predictive), forecasts with their error, and capacity plans. The
// arithmetic lives in libs/forecasting and libs/scaling; this is the shell.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import {
  RecommendationSchema,
  type Optimizer,
  type Recommendation,
} from "../../libs/contracts/index.js";
import { createAsyncQueue, invalidArgument } from "../../libs/rpc/index.js";
import type { ForecastPoint } from "../../libs/forecasting/index.js";
import {
  FORECAST_SIGNALS,
  type Forecaster,
  type ForecastSignal,
  type PredictiveRecommendation,
} from "./forecaster.js";
import { checkLoadSample } from "./load-sample.js";
import { createForecastScoring } from "./forecast-scoring.js";
import {
  demandForecastErrorRatio,
  demandForecastMapeRatio,
  desiredWorkersGauge,
  predictedWorkersGauge,
  samplesObservedCounter,
} from "./metrics.js";

export interface OptimizerDeps {
  readonly forecaster: Forecaster;
  readonly logger: Logger;
  /** Lead time when a request names none: a worker's start plus a sync interval. */
  readonly defaultLeadTimeSec: number;
  /** Epoch ms; injected so tests replay exactly. */
  readonly now?: () => number;
}

const MAX_HORIZON_SEC = 14 * 86_400;
/** A forecast answer of more points than this is refused (ask for a coarser step). */
const MAX_FORECAST_POINTS = 5_000;

export function optimizerService(deps: OptimizerDeps): ServiceImpl<typeof Optimizer> {
  const now = deps.now ?? Date.now;
  let last: PredictiveRecommendation | undefined;
  const watchers = new Set<() => void>();
  const scoring = createForecastScoring();

  const leadOf = (requested: number): number => {
    if (!Number.isFinite(requested) || requested < 0 || requested > 3600)
      throw invalidArgument("lead_time_sec", `${requested} is not within 0..3600`);
    return requested > 0 ? requested : deps.defaultLeadTimeSec;
  };

  const recommend = (leadTimeSec: number): Recommendation => {
    const nowMs = now();
    const result = deps.forecaster.recommend(nowMs, leadTimeSec);
    desiredWorkersGauge.set(result.desiredWorkers);
    predictedWorkersGauge.set(result.predictedWorkers);
    if (result.forecast) {
      scoring.expect(nowMs + leadTimeSec * 1000, result.predictedDemand);
      demandForecastMapeRatio.set(result.forecast.mape ?? Number.NaN);
    }
    // Say it when the answer changes, so "why 7 workers?" has an answer in the log.
    if (
      last?.desiredWorkers !== result.desiredWorkers ||
      last.reason !== result.reason ||
      last.predictedWorkers !== result.predictedWorkers ||
      last.isBurstDetected !== result.isBurstDetected
    ) {
      deps.logger.info(
        {
          currentWorkers: result.currentWorkers,
          desiredWorkers: result.desiredWorkers,
          predictedWorkers: result.predictedWorkers,
          reason: result.reason,
          burst: result.isBurstDetected,
          model: result.forecast?.model,
        },
        result.message,
      );
    }
    last = result;
    return toMessage(result);
  };

  return {
    // The coordinator keeps one stream open and pushes a sample every sync
    // interval. One bad sample ends the stream with INVALID_ARGUMENT; those
    // before it stay accepted.
    async observe(requests) {
      let accepted = 0;
      for await (const request of requests) {
        const checked = checkLoadSample(request.sample);
        if (checked.kind === "invalid") {
          samplesObservedCounter.inc({ outcome: "rejected" });
          deps.logger.warn(
            { field: checked.field, problem: checked.problem, accepted },
            "load sample rejected; ending the Observe stream",
          );
          throw invalidArgument(
            checked.field,
            `${checked.problem} (message ${accepted + 1} of the stream; ${accepted} accepted before it)`,
          );
        }
        deps.forecaster.observe(checked.record);
        const { observedAtMs, busySlots, pendingTasks } = checked.record;
        for (const error of scoring.settle(observedAtMs, busySlots + pendingTasks))
          demandForecastErrorRatio.observe(error);
        accepted += 1;
        samplesObservedCounter.inc({ outcome: "accepted" });
        for (const wake of watchers) wake();
      }
      deps.logger.debug({ accepted }, "Observe stream ended");
      return { samplesAccepted: BigInt(accepted) };
    },

    getRecommendation(request) {
      return { recommendation: recommend(leadOf(request.leadTimeSec)) };
    },

    async *watchRecommendations(request, ctx) {
      const leadTimeSec = leadOf(request.leadTimeSec);
      const wakes = createAsyncQueue<true>();
      const wake = (): void => void wakes.push(true);
      watchers.add(wake);
      if (ctx.signal.aborted) wakes.close();
      else ctx.signal.addEventListener("abort", () => wakes.close(), { once: true });
      try {
        let previous = recommend(leadTimeSec);
        yield { recommendation: previous };
        for await (const _ of wakes) {
          const next = recommend(leadTimeSec);
          if (isSameAdvice(previous, next)) continue;
          previous = next;
          yield { recommendation: next };
        }
      } finally {
        watchers.delete(wake);
      }
    },

    getForecast(request) {
      const signal = request.signal || "demand";
      if (!(FORECAST_SIGNALS as readonly string[]).includes(signal))
        throw invalidArgument("signal", `"${signal}" is not one of ${FORECAST_SIGNALS.join(", ")}`);
      const horizonSec = request.horizonSec || 3600;
      if (horizonSec > MAX_HORIZON_SEC)
        throw invalidArgument(
          "horizon_sec",
          `${horizonSec} is over the limit of ${MAX_HORIZON_SEC} (14 days, the history's reach)`,
        );
      const confidence = request.confidence || 0.95;
      if (!(confidence > 0 && confidence < 1))
        throw invalidArgument("confidence", `${confidence} is not between 0 and 1`);
      const stepSec = request.stepSec || undefined;
      if (stepSec !== undefined && horizonSec / stepSec > MAX_FORECAST_POINTS) {
        throw invalidArgument(
          "step_sec",
          `${stepSec} s over ${horizonSec} s gives more than ${MAX_FORECAST_POINTS} points; ask for a step of at least ${Math.ceil(horizonSec / MAX_FORECAST_POINTS)} s`,
        );
      }
      const forecast = deps.forecaster.forecast(signal as ForecastSignal, {
        nowMs: now(),
        horizonSec,
        confidence,
        ...(stepSec !== undefined ? { stepSec } : {}),
      });
      return {
        signal,
        model: forecast.model,
        stepSec: forecast.stepSec,
        confidence: forecast.confidence,
        points: forecast.points.map((p: ForecastPoint) => ({
          at: timestampFromMs(p.atMs),
          value: p.value,
          lower: p.lower,
          upper: p.upper,
        })),
        mape: forecast.mape ?? -1,
        fittedOn: forecast.fittedOn,
        message: forecast.message,
      };
    },

    getCapacityPlan(request) {
      const horizonSec = request.horizonSec || 86_400;
      if (horizonSec > MAX_HORIZON_SEC)
        throw invalidArgument(
          "horizon_sec",
          `${horizonSec} is over the limit of ${MAX_HORIZON_SEC} (14 days)`,
        );
      const { plan, efficiency, forecast } = deps.forecaster.capacityPlan(now(), horizonSec);
      return {
        horizonSec,
        peakAt: timestampFromMs(plan.peakAtMs),
        peakDemand: plan.peakDemand,
        peakDemandUpper: plan.peakDemandUpper,
        workersNeeded: plan.workersNeeded,
        maxWorkers: plan.maxWorkers,
        maxSufficient: plan.isMaxSufficient,
        recommendation: plan.recommendation,
        slotUtilization: efficiency.slotUtilization,
        idleWorkerSeconds: efficiency.idleWorkerSeconds,
        tasksPerWorkerSecond: efficiency.tasksPerWorkerSecond,
        forecastModel: forecast.model,
        forecastMape: forecast.mape ?? -1,
      };
    },
  };
}

function toMessage(result: PredictiveRecommendation): Recommendation {
  return create(RecommendationSchema, {
    currentWorkers: result.currentWorkers,
    desiredWorkers: result.desiredWorkers,
    utilization: result.utilization,
    reason: result.reason,
    message: result.message,
    samplesUsed: result.samplesUsed,
    predictedWorkers: result.predictedWorkers,
    predictedDemand: result.predictedDemand,
    predictedDemandUpper: result.predictedDemandUpper,
    forecastModel: result.forecast?.model ?? "",
    forecastMape: result.forecast?.mape ?? -1,
    forecastMessage: result.forecast?.message ?? "no demand history yet",
    burstDetected: result.isBurstDetected,
    burstMessage: result.burstMessage,
    leadTimeSec: result.leadTimeSec,
  });
}

/** A watcher hears of a change in what to do, not of every sample. */
function isSameAdvice(a: Recommendation, b: Recommendation): boolean {
  return (
    a.desiredWorkers === b.desiredWorkers &&
    a.predictedWorkers === b.predictedWorkers &&
    a.reason === b.reason &&
    a.burstDetected === b.burstDetected &&
    a.currentWorkers === b.currentWorkers
  );
}
