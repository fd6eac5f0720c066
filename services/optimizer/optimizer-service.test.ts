import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createHandlerContext, type HandlerContext } from "@connectrpc/connect";
import { pino } from "pino";
import { beforeEach, describe, expect, it } from "vitest";
import { GetRecommendationRequestSchema, ObserveRequestSchema, Optimizer, type LoadSample, type ObserveRequest } from "../../libs/contracts/index.js";
import { createLoadHistory, type LoadHistory } from "../../libs/scaling/index.js";
import { registry } from "../../libs/telemetry/index.js";
import { desiredWorkersGauge, samplesObservedCounter } from "./metrics.js";
import { optimizerService } from "./optimizer-service.js";

const NOW_MS = 1_700_000_000_000;
const silent = pino({ level: "silent" });

type SampleFields = Omit<LoadSample, "$typeName" | "$unknown">;

/** A valid sample taken `ageSec` before NOW_MS; override any field. */
function sample(ageSec: number, overrides: Partial<SampleFields> = {}): ObserveRequest {
  return create(ObserveRequestSchema, {
    sample: { observedAt: timestampFromMs(NOW_MS - ageSec * 1000), workers: 4, totalSlots: 16, busySlots: 8, ...overrides },
  });
}

async function* stream(...requests: ObserveRequest[]): AsyncIterable<ObserveRequest> {
  yield* requests;
}

function contextFor(method: "observe" | "getRecommendation"): HandlerContext {
  return createHandlerContext({ service: Optimizer, method: Optimizer.method[method], protocolName: "test", requestMethod: "POST", url: `/scalemesh.v1.Optimizer/${method}` });
}

/** Thresholds 0.30 / 0.80 (target 0.55), window 60 s, 1..10 workers, clock fixed at NOW_MS. */
function setup(): { service: ReturnType<typeof optimizerService>; history: LoadHistory } {
  const history = createLoadHistory({ maxSamples: 100, horizonSec: 60 });
  const service = optimizerService({
    history,
    policy: { windowSec: 60, minWorkers: 1, maxWorkers: 10, scaleUpThreshold: 0.8, scaleDownThreshold: 0.3 },
    logger: silent,
    now: () => NOW_MS,
  });
  return { service, history };
}

async function samplesCounted(outcome: "accepted" | "rejected"): Promise<number> {
  const metric = await samplesObservedCounter.get();
  return metric.values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

async function statusOf(promise: Promise<unknown>): Promise<ConnectError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ConnectError);
  return error as ConnectError;
}

beforeEach(() => {
  samplesObservedCounter.reset();
  desiredWorkersGauge.reset();
});

describe("Observe", () => {
  it("keeps every sample of the stream and answers how many it accepted", async () => {
    const { service, history } = setup();
    const response = await service.observe(stream(sample(30), sample(15), sample(0)), contextFor("observe"));
    expect(response.samplesAccepted).toBe(3n);
    expect(history.size).toBe(3);
    expect(await samplesCounted("accepted")).toBe(3);
  });

  it("answers 0 for a stream that ends without a sample", async () => {
    const { service } = setup();
    expect((await service.observe(stream(), contextFor("observe"))).samplesAccepted).toBe(0n);
  });

  const invalid: { name: string; request: ObserveRequest; field: string }[] = [
    { name: "a message without a sample", request: create(ObserveRequestSchema, {}), field: "sample" },
    { name: "a sample without observed_at", request: sample(0, { observedAt: undefined }), field: "sample.observed_at" },
    { name: "a sample with more busy slots than slots", request: sample(0, { totalSlots: 8, busySlots: 9 }), field: "sample.busy_slots" },
  ];
  for (const c of invalid) {
    it(`refuses ${c.name} with INVALID_ARGUMENT naming ${c.field}, keeping the samples before it`, async () => {
      const { service, history } = setup();
      const status = await statusOf(service.observe(stream(sample(10), c.request, sample(0)), contextFor("observe")));
      expect(status.code).toBe(Code.InvalidArgument);
      expect(status.rawMessage).toMatch(new RegExp(`^${c.field.replace(".", "\\.")}: `));
      expect(status.rawMessage).toContain("message 2 of the stream; 1 accepted before it");
      expect(history.size).toBe(1);
      expect(await samplesCounted("accepted")).toBe(1);
      expect(await samplesCounted("rejected")).toBe(1);
    });
  }

  it("says how far busy_slots exceeds total_slots", async () => {
    const { service } = setup();
    const status = await statusOf(service.observe(stream(sample(0, { totalSlots: 8, busySlots: 9 })), contextFor("observe")));
    expect(status.rawMessage).toContain("sample.busy_slots: is 9, more than total_slots 8");
  });
});

describe("GetRecommendation", () => {
  it("recommends from the observed samples, the policy and the injected clock", async () => {
    const { service } = setup();
    // (14 busy + 2 pending) / 16 = 1.0 twice; ceil(4 × 1.0 / 0.55) = 8. The sample 90 s old is outside the window.
    await service.observe(
      stream(sample(90, { busySlots: 0 }), sample(20, { busySlots: 14, pendingTasks: 2 }), sample(5, { busySlots: 14, pendingTasks: 2 })),
      contextFor("observe"),
    );
    const response = await service.getRecommendation(create(GetRecommendationRequestSchema), contextFor("getRecommendation"));
    expect(response).toMatchObject({ currentWorkers: 4, desiredWorkers: 8, utilization: 1, reason: "ScaleUp", samplesUsed: 2 });
    expect(response.message).toBe("mean utilization 1.00 over 2 samples (60 s) is above scale_up_threshold 0.80: 4 → 8 workers");
  });

  it("reports NoData and min_workers before any sample arrives", async () => {
    const { service } = setup();
    const response = await service.getRecommendation(create(GetRecommendationRequestSchema), contextFor("getRecommendation"));
    expect(response).toMatchObject({ currentWorkers: 0, desiredWorkers: 1, reason: "NoData", samplesUsed: 0 });
  });

  it("publishes the desired count on scalemesh_optimizer_desired_workers", async () => {
    const { service } = setup();
    await service.observe(stream(sample(5, { busySlots: 1 })), contextFor("observe"));
    await service.getRecommendation(create(GetRecommendationRequestSchema), contextFor("getRecommendation"));
    // 1 / 16 = 0.06: ceil(4 × 0.0625 / 0.55) = 1
    expect(await registry.getSingleMetricAsString("scalemesh_optimizer_desired_workers")).toMatch(/^scalemesh_optimizer_desired_workers 1$/m);
  });
});
