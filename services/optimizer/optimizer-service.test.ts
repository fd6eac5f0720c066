import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createHandlerContext, type HandlerContext } from "@connectrpc/connect";
import { pino } from "pino";
import { beforeEach, describe, expect, it } from "vitest";
import {
  GetCapacityPlanRequestSchema,
  GetCapacityPlanResponseSchema,
  GetForecastRequestSchema,
  GetForecastResponseSchema,
  GetRecommendationRequestSchema,
  GetRecommendationResponseSchema,
  ObserveRequestSchema,
  Optimizer,
  RecommendationSchema,
  WatchRecommendationsRequestSchema,
  WatchRecommendationsResponseSchema,
  type LoadSample,
  type ObserveRequest,
  type Recommendation,
} from "../../libs/contracts/index.js";
import { createAsyncQueue, type AsyncQueue } from "../../libs/rpc/index.js";
import type { ScalingPolicy } from "../../libs/scaling/index.js";
import { registry } from "../../libs/telemetry/index.js";
import { createForecaster, type Forecaster, type PredictiveRecommendation } from "./forecaster.js";
import { desiredWorkersGauge, predictedWorkersGauge, samplesObservedCounter } from "./metrics.js";
import { optimizerService } from "./optimizer-service.js";

/** Noon UTC: whole seconds and minutes, so forecast steps start right after it. */
const NOW_MS = Date.UTC(2025, 0, 6, 12);
const DEFAULT_LEAD_TIME_SEC = 45;
/** Thresholds 0.30 / 0.80 (target 0.55: a worker of 4 slots holds 2.2 slots of demand), window 60 s, 1..10 workers. */
const POLICY: ScalingPolicy = {
  windowSec: 60,
  minWorkers: 1,
  maxWorkers: 10,
  scaleUpThreshold: 0.8,
  scaleDownThreshold: 0.3,
};
const silent = pino({ level: "silent" });

type SampleFields = Omit<LoadSample, "$typeName" | "$unknown">;
type Method = keyof typeof Optimizer.method;

interface Setup {
  readonly service: ReturnType<typeof optimizerService>;
  /** The injected clock, epoch ms. */
  readonly clock: { nowMs: number };
  /** Every recommendation the forecaster made, in order: a watcher's work can be awaited. */
  readonly recommended: AsyncQueue<PredictiveRecommendation>;
  observe(...requests: ObserveRequest[]): Promise<bigint>;
  recommend(leadTimeSec?: number): Promise<Recommendation>;
}

function setup(): Setup {
  const clock = { nowMs: NOW_MS };
  const forecaster = createForecaster({ policy: POLICY, hardMaxWorkers: 100 });
  const recommended = createAsyncQueue<PredictiveRecommendation>();
  const spied: Forecaster = {
    ...forecaster,
    recommend(nowMs, leadTimeSec) {
      const result = forecaster.recommend(nowMs, leadTimeSec);
      recommended.push(result);
      return result;
    },
  };
  const service = optimizerService({
    forecaster: spied,
    logger: silent,
    defaultLeadTimeSec: DEFAULT_LEAD_TIME_SEC,
    now: () => clock.nowMs,
  });
  return {
    service,
    clock,
    recommended,
    observe: async (...requests) =>
      (await service.observe(stream(...requests), contextFor("observe"))).samplesAccepted ?? 0n,
    recommend: async (leadTimeSec = 0) =>
      recommendationOf(
        await service.getRecommendation(
          create(GetRecommendationRequestSchema, { leadTimeSec }),
          contextFor("getRecommendation"),
        ),
      ),
  };
}

/** A valid sample taken `ageSec` before the clock's now: 4 workers of 4 slots, half busy; override any field. */
function sample(
  clock: { nowMs: number },
  ageSec: number,
  overrides: Partial<SampleFields> = {},
): ObserveRequest {
  return create(ObserveRequestSchema, {
    sample: {
      observedAt: timestampFromMs(clock.nowMs - ageSec * 1000),
      workers: 4,
      totalSlots: 16,
      busySlots: 8,
      arrivalRatePerSec: 10,
      completionRatePerSec: 2,
      ...overrides,
    },
  });
}

/** `count` samples a second apart, each observed as the clock reaches it; the clock ends on the last. */
async function observeEverySecond(
  env: Setup,
  count: number,
  shape: (i: number) => Partial<SampleFields> = () => ({}),
): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    if (i > 0) env.clock.nowMs += 1000;
    await env.observe(sample(env.clock, 0, shape(i)));
  }
}

async function* stream(...requests: ObserveRequest[]): AsyncIterable<ObserveRequest> {
  yield* requests;
}

function contextFor(method: Method, requestSignal?: AbortSignal): HandlerContext {
  return createHandlerContext({
    service: Optimizer,
    method: Optimizer.method[method],
    protocolName: "test",
    requestMethod: "POST",
    url: `/scalemesh.v1.Optimizer/${method}`,
    ...(requestSignal ? { requestSignal } : {}),
  });
}

function recommendationOf(
  response: MessageInitShape<typeof GetRecommendationResponseSchema>,
): Recommendation {
  return (
    create(GetRecommendationResponseSchema, response).recommendation ?? create(RecommendationSchema)
  );
}

async function samplesCounted(outcome: "accepted" | "rejected"): Promise<number> {
  const metric = await samplesObservedCounter.get();
  return metric.values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

/** The ConnectError a call ends with, whether it throws at once or rejects. */
async function refusalOf(call: () => unknown): Promise<ConnectError> {
  const error = await Promise.resolve()
    .then(call)
    .then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
  expect(error).toBeInstanceOf(ConnectError);
  return error as ConnectError;
}

function expectInvalidArgument(status: ConnectError, field: string): void {
  expect(status.code).toBe(Code.InvalidArgument);
  expect(status.rawMessage.startsWith(`${field}: `), status.rawMessage).toBe(true);
}

beforeEach(() => {
  samplesObservedCounter.reset();
  desiredWorkersGauge.reset();
  predictedWorkersGauge.reset();
});

describe("Observe", () => {
  it("keeps every sample of the stream and answers how many it accepted", async () => {
    const env = setup();
    expect(
      await env.observe(sample(env.clock, 30), sample(env.clock, 15), sample(env.clock, 0)),
    ).toBe(3n);
    expect((await env.recommend()).samplesUsed).toBe(3);
    expect(await samplesCounted("accepted")).toBe(3);
  });

  it("answers 0 for a stream that ends without a sample", async () => {
    expect(await setup().observe()).toBe(0n);
  });

  const invalid: {
    name: string;
    request: (clock: { nowMs: number }) => ObserveRequest;
    field: string;
  }[] = [
    {
      name: "a message without a sample",
      request: () => create(ObserveRequestSchema, {}),
      field: "sample",
    },
    {
      name: "a sample without observed_at",
      request: (clock) => sample(clock, 0, { observedAt: undefined }),
      field: "sample.observed_at",
    },
    {
      name: "a sample with more busy slots than slots",
      request: (clock) => sample(clock, 0, { totalSlots: 8, busySlots: 9 }),
      field: "sample.busy_slots",
    },
  ];
  for (const c of invalid) {
    it(`refuses ${c.name} with INVALID_ARGUMENT naming ${c.field}, keeping the samples before it`, async () => {
      const env = setup();
      const status = await refusalOf(() =>
        env.observe(sample(env.clock, 10), c.request(env.clock), sample(env.clock, 0)),
      );
      expectInvalidArgument(status, c.field);
      expect(status.rawMessage).toContain("message 2 of the stream; 1 accepted before it");
      expect((await env.recommend()).samplesUsed).toBe(1);
      expect(await samplesCounted("accepted")).toBe(1);
      expect(await samplesCounted("rejected")).toBe(1);
    });
  }

  it("says how far busy_slots exceeds total_slots", async () => {
    const env = setup();
    const status = await refusalOf(() =>
      env.observe(sample(env.clock, 0, { totalSlots: 8, busySlots: 9 })),
    );
    expect(status.rawMessage).toContain("sample.busy_slots: is 9, more than total_slots 8");
  });
});

describe("GetRecommendation", () => {
  it("recommends from the observed samples, the policy and the injected clock", async () => {
    const env = setup();
    // (14 busy + 2 pending) / 16 = 1.0 twice; ceil(4 × 1.0 / 0.55) = 8. The sample 90 s old is outside the window.
    await env.observe(
      sample(env.clock, 90, { busySlots: 0 }),
      sample(env.clock, 20, { busySlots: 14, pendingTasks: 2 }),
      sample(env.clock, 5, { busySlots: 14, pendingTasks: 2 }),
    );
    const recommendation = await env.recommend();
    expect(recommendation).toMatchObject({
      currentWorkers: 4,
      desiredWorkers: 8,
      utilization: 1,
      reason: "ScaleUp",
      samplesUsed: 2,
      leadTimeSec: DEFAULT_LEAD_TIME_SEC,
    });
    expect(recommendation.message).toBe(
      "mean utilization 1.00 over 2 samples (60 s) is above scale_up_threshold 0.80: 4 → 8 workers",
    );
  });

  it("reports NoData and min_workers before any sample arrives, with no forecast", async () => {
    const recommendation = await setup().recommend();
    expect(recommendation).toMatchObject({
      currentWorkers: 0,
      desiredWorkers: 1,
      reason: "NoData",
      samplesUsed: 0,
      predictedWorkers: 0,
      forecastModel: "",
      forecastMape: -1,
      forecastMessage: "no demand history yet",
    });
  });

  // Demand 39 now, rising a slot a second: 39 + lead slots at the lead time, over 2.2 slots a worker.
  const leads = [
    { leadTimeSec: 30, demand: 69, workers: 32 },
    { leadTimeSec: 120, demand: 159, workers: 73 },
  ];
  for (const c of leads) {
    it(`predicts ${c.workers} workers ${c.leadTimeSec} s ahead of demand rising a slot a second, above the reactive 10`, async () => {
      const env = setup();
      await observeEverySecond(env, 40, (i) => ({ workers: 10, totalSlots: 40, busySlots: i }));
      const recommendation = await env.recommend(c.leadTimeSec);
      // Mean utilization 19.5 / 40 is inside the band: the reactive rule alone keeps 10.
      expect(recommendation).toMatchObject({
        currentWorkers: 10,
        desiredWorkers: 10,
        reason: "WithinThresholds",
        predictedWorkers: c.workers,
        forecastModel: "holt",
        leadTimeSec: c.leadTimeSec,
      });
      expect(recommendation.predictedDemand).toBeCloseTo(c.demand, 6);
      expect(recommendation.predictedDemandUpper).toBeGreaterThanOrEqual(
        recommendation.predictedDemand - 1e-9,
      );
      expect(recommendation.forecastMape).toBeCloseTo(0, 9);
      expect(recommendation.forecastMessage).toMatch(/^holt: /);
    });
  }

  it("asks for nothing ahead of flat demand within the band", async () => {
    const env = setup();
    await observeEverySecond(env, 60);
    const recommendation = await env.recommend(60);
    expect(recommendation).toMatchObject({
      currentWorkers: 4,
      desiredWorkers: 4,
      predictedWorkers: 0,
    });
    expect(recommendation.predictedDemand).toBeCloseTo(8, 9);
  });

  for (const leadTimeSec of [-1, 3601, Number.NaN]) {
    it(`refuses lead_time_sec ${leadTimeSec} with INVALID_ARGUMENT naming it`, async () => {
      const env = setup();
      expectInvalidArgument(await refusalOf(() => env.recommend(leadTimeSec)), "lead_time_sec");
    });
  }

  it("publishes the desired and predicted counts on their gauges", async () => {
    const env = setup();
    await observeEverySecond(env, 40, (i) => ({ workers: 10, totalSlots: 40, busySlots: i }));
    await env.recommend(30);
    expect(await registry.getSingleMetricAsString("scalemesh_optimizer_desired_workers")).toMatch(
      /^scalemesh_optimizer_desired_workers 10$/m,
    );
    expect(await registry.getSingleMetricAsString("scalemesh_optimizer_predicted_workers")).toMatch(
      /^scalemesh_optimizer_predicted_workers 32$/m,
    );
  });

  it("scores each demand forecast against the demand that came at its lead time, and publishes the model's MAPE", async () => {
    const env = setup();
    const errors = async () => {
      const metric = registry.getSingleMetric("scalemesh_optimizer_demand_forecast_error_ratio");
      const values = ((await metric?.get())?.values ?? []) as {
        metricName?: string;
        value: number;
      }[];
      const of = (series: string) => values.find((v) => v.metricName === series)?.value ?? 0;
      return {
        count: of("scalemesh_optimizer_demand_forecast_error_ratio_count"),
        sum: of("scalemesh_optimizer_demand_forecast_error_ratio_sum"),
      };
    };
    await observeEverySecond(env, 60);
    const before = await errors();
    expect((await env.recommend(10)).predictedDemand).toBeCloseTo(8, 9);
    env.clock.nowMs += 9000;
    await env.observe(sample(env.clock, 0, { busySlots: 12 }));
    expect((await errors()).count).toBe(before.count);
    env.clock.nowMs += 1000;
    await env.observe(sample(env.clock, 0, { busySlots: 12 }));
    const after = await errors();
    expect(after.count - before.count).toBe(1);
    expect(after.sum - before.sum).toBeCloseTo(4 / 12, 9);
    expect(
      await registry.getSingleMetricAsString("scalemesh_optimizer_demand_forecast_mape_ratio"),
    ).toMatch(/^scalemesh_optimizer_demand_forecast_mape_ratio \d/m);
  });

  it("says a burst when the arrival rate jumps from a steady baseline after the warm-up, and stops saying it once quiet", async () => {
    const env = setup();
    await observeEverySecond(env, 20);
    expect(await env.recommend()).toMatchObject({ burstDetected: false, burstMessage: "" });
    env.clock.nowMs += 1000;
    await env.observe(sample(env.clock, 0, { arrivalRatePerSec: 30 }));
    const during = await env.recommend();
    expect(during.burstDetected).toBe(true);
    expect(during.burstMessage).toContain("arrival rate 30.0/s");
    expect(during.burstMessage).toContain("baseline 10.0/s");
    env.clock.nowMs += 1000;
    await observeEverySecond(env, 3);
    expect(await env.recommend()).toMatchObject({ burstDetected: false, burstMessage: "" });
  });
});

describe("WatchRecommendations", () => {
  function watch(
    env: Setup,
    leadTimeSec: number,
    signal?: AbortSignal,
  ): AsyncIterator<MessageInitShape<typeof WatchRecommendationsResponseSchema>> {
    return env.service
      .watchRecommendations(
        create(WatchRecommendationsRequestSchema, { leadTimeSec }),
        contextFor("watchRecommendations", signal),
      )
      [Symbol.asyncIterator]();
  }
  const watched = (
    result: IteratorResult<MessageInitShape<typeof WatchRecommendationsResponseSchema>>,
  ): Recommendation | undefined =>
    result.done
      ? undefined
      : create(WatchRecommendationsResponseSchema, result.value).recommendation;

  it("yields the current recommendation at once, again only when the advice changes, and ends on abort", async () => {
    const env = setup();
    await observeEverySecond(env, 60);
    const calls = env.recommended[Symbol.asyncIterator]();
    const abort = new AbortController();
    const watcher = watch(env, 30, abort.signal);

    expect(watched(await watcher.next())).toMatchObject({
      currentWorkers: 4,
      desiredWorkers: 4,
      predictedWorkers: 0,
      leadTimeSec: 30,
    });
    await calls.next();

    const pending = watcher.next();
    // Another half-busy sample: the watcher looks again, finds the same advice and stays quiet.
    env.clock.nowMs += 1000;
    await env.observe(sample(env.clock, 0));
    expect((await calls.next()).value).toMatchObject({
      currentWorkers: 4,
      desiredWorkers: 4,
      predictedWorkers: 0,
    });
    // Six workers now: the next thing the watcher yields is this, not the sample before.
    env.clock.nowMs += 1000;
    await env.observe(sample(env.clock, 0, { workers: 6, totalSlots: 24 }));
    expect(watched(await pending)).toMatchObject({
      currentWorkers: 6,
      desiredWorkers: 6,
      leadTimeSec: 30,
    });

    const ended = watcher.next();
    abort.abort();
    expect((await ended).done).toBe(true);
  });

  it("uses the default lead time when the request names none", async () => {
    const env = setup();
    const abort = new AbortController();
    const watcher = watch(env, 0, abort.signal);
    expect(watched(await watcher.next())).toMatchObject({
      reason: "NoData",
      leadTimeSec: DEFAULT_LEAD_TIME_SEC,
    });
    abort.abort();
    expect((await watcher.next()).done).toBe(true);
  });

  it("refuses lead_time_sec over an hour with INVALID_ARGUMENT naming it", async () => {
    const env = setup();
    expectInvalidArgument(await refusalOf(() => watch(env, 3601).next()), "lead_time_sec");
  });

  // Was a bug (optimizer-service.ts:85); this keeps it fixed.
  it("ends a watch whose call was already cancelled, yielding nothing new", async () => {
    const env = setup();
    await observeEverySecond(env, 60);
    const abort = new AbortController();
    abort.abort();
    const watcher = watch(env, 30, abort.signal);
    await watcher.next();
    const second = watcher.next();
    env.clock.nowMs += 1000;
    await env.observe(sample(env.clock, 0, { workers: 6, totalSlots: 24 }));
    expect((await second).done).toBe(true);
  });
});

describe("GetForecast", () => {
  async function forecastOf(
    env: Setup,
    request: MessageInitShape<typeof GetForecastRequestSchema>,
  ) {
    return create(
      GetForecastResponseSchema,
      await env.service.getForecast(
        create(GetForecastRequestSchema, request),
        contextFor("getForecast"),
      ),
    );
  }

  it("forecasts after now in the asked steps, each value inside its interval, the interval widening with the horizon", async () => {
    const env = setup();
    // Busy slots rising about a slot every 10 s with a ripple, so the fit has an error to show.
    await observeEverySecond(env, 300, (i) => ({
      workers: 10,
      totalSlots: 80,
      busySlots: Math.floor(i / 10) + (i % 3),
    }));
    const forecast = await forecastOf(env, {
      signal: "busy_slots",
      horizonSec: 120,
      stepSec: 5,
      confidence: 0.9,
    });
    expect(forecast).toMatchObject({
      signal: "busy_slots",
      model: "holt",
      stepSec: 5,
      confidence: 0.9,
    });
    expect(forecast.fittedOn).toBeGreaterThan(0);
    expect(forecast.mape).toBeGreaterThan(0);
    expect(forecast.message).toMatch(/^holt: .*MAPE/);
    // The clock stands at 299 s past noon: the first step after it starts at 300 s.
    const stepStartMs = Math.floor(env.clock.nowMs / 5000) * 5000;
    expect(stepStartMs).toBeLessThan(env.clock.nowMs);
    expect(forecast.points.map((p) => (p.at ? timestampMs(p.at) : 0))).toEqual(
      Array.from({ length: 24 }, (_, k) => stepStartMs + (k + 1) * 5000),
    );
    for (const p of forecast.points) {
      expect(p.lower).toBeLessThanOrEqual(p.value);
      expect(p.value).toBeLessThanOrEqual(p.upper);
    }
    const width = (p: (typeof forecast.points)[number] | undefined): number =>
      p ? p.upper - p.lower : 0;
    expect(width(forecast.points.at(-1))).toBeGreaterThan(width(forecast.points[0]));
    // Rising: the last point is above the latest value.
    expect(forecast.points.at(-1)?.value).toBeGreaterThan(29);
  });

  it("defaults to demand over an hour in 1 s steps at 95%", async () => {
    const env = setup();
    await observeEverySecond(env, 30);
    const forecast = await forecastOf(env, {});
    expect(forecast).toMatchObject({ signal: "demand", stepSec: 1, confidence: 0.95 });
    expect(forecast.points).toHaveLength(3600);
    expect(forecast.points[0]?.value).toBeCloseTo(8, 9);
  });

  const invalid: {
    name: string;
    request: MessageInitShape<typeof GetForecastRequestSchema>;
    field: string;
  }[] = [
    { name: "an unknown signal", request: { signal: "queue_depth" }, field: "signal" },
    {
      name: "a horizon over 14 days",
      request: { horizonSec: 14 * 86_400 + 1 },
      field: "horizon_sec",
    },
    {
      name: "a step giving more than 5,000 points",
      request: { horizonSec: 86_400, stepSec: 1 },
      field: "step_sec",
    },
    { name: "a confidence of 1", request: { confidence: 1 }, field: "confidence" },
    { name: "a confidence above 1", request: { confidence: 1.5 }, field: "confidence" },
    { name: "a negative confidence", request: { confidence: -0.2 }, field: "confidence" },
  ];
  for (const c of invalid) {
    it(`refuses ${c.name} with INVALID_ARGUMENT naming ${c.field}`, async () => {
      const env = setup();
      expectInvalidArgument(await refusalOf(() => forecastOf(env, c.request)), c.field);
    });
  }
});

describe("GetCapacityPlan", () => {
  async function planOf(env: Setup, horizonSec = 0) {
    return create(
      GetCapacityPlanResponseSchema,
      await env.service.getCapacityPlan(
        create(GetCapacityPlanRequestSchema, { horizonSec }),
        contextFor("getCapacityPlan"),
      ),
    );
  }

  it("plans for the steady demand seen and measures the fleet's efficiency over the samples", async () => {
    const env = setup();
    // 120 samples a second apart: 119 s, each sample holding until the next.
    await observeEverySecond(env, 120);
    const plan = await planOf(env);
    // 8 busy slots over 2.2 a worker at the target 0.55: 4 workers, 6 to spare under max_workers 10.
    expect(plan).toMatchObject({
      horizonSec: 86_400,
      workersNeeded: 4,
      maxWorkers: 10,
      maxSufficient: true,
    });
    expect(plan.peakDemand).toBeCloseTo(8, 9);
    expect(plan.peakDemandUpper).toBeCloseTo(8, 9);
    expect(plan.peakAt ? timestampMs(plan.peakAt) : 0).toBeGreaterThan(env.clock.nowMs);
    expect(plan.recommendation).toContain("max_workers 10 suffices with 6 to spare");
    expect(plan.forecastModel).not.toBe("");
    // Slot utilization = busy / slots = 8 / 16; 2 of 4 workers idle for 119 s; 2 tasks a second over 4 workers.
    expect(plan.slotUtilization).toBeCloseTo(0.5, 9);
    expect(plan.idleWorkerSeconds).toBeCloseTo(2 * 119, 6);
    expect(plan.tasksPerWorkerSecond).toBeCloseTo(0.5, 9);
  });

  it("says by how many max_workers falls short of a saturated fleet's demand", async () => {
    const env = setup();
    await observeEverySecond(env, 120, () => ({ busySlots: 16, pendingTasks: 30 }));
    const plan = await planOf(env, 3600);
    // 46 slots of demand over 2.2 a worker: 21.
    expect(plan).toMatchObject({
      horizonSec: 3600,
      workersNeeded: 21,
      maxWorkers: 10,
      maxSufficient: false,
    });
    expect(plan.recommendation).toContain("max_workers 10 is short by 11");
    expect(plan.slotUtilization).toBeCloseTo(1, 9);
    expect(plan.idleWorkerSeconds).toBe(0);
  });

  it("refuses a horizon over 14 days with INVALID_ARGUMENT naming horizon_sec", async () => {
    const env = setup();
    expectInvalidArgument(await refusalOf(() => planOf(env, 14 * 86_400 + 1)), "horizon_sec");
  });
});
