import { describe, expect, it } from "vitest";
import { decideScale, emptyAutoscaleState } from "./autoscale-policy.js";
import type { AutoscaleConfig, AutoscaleInput } from "./autoscale-types.js";
import { applyPrediction } from "./predictive-step.js";

const config: AutoscaleConfig = {
  minWorkers: 1,
  maxWorkers: 10,
  targets: { slotUtilization: 0.55 },
  up: { stabilizationSec: 0, tolerance: 0.45, policies: [], select: "max" },
  down: { stabilizationSec: 300, tolerance: 0.45, policies: [], select: "max" },
  coolDownSec: 0,
  burstFactor: 1,
  maxBurstDurationSec: 300,
  hardMaxWorkers: 10,
  allowScaleToZero: false,
};

describe("applyPrediction", () => {
  const held = {
    workers: 3,
    reason: "WithinTolerance" as const,
    message: "slot utilization 0.60 is within tolerance",
  };
  it.each([
    {
      name: "raises the count to the forecast",
      predicted: 5,
      workers: 5,
      reason: "PredictiveScaleUp",
    },
    { name: "never lowers it", predicted: 2, workers: 3, reason: "WithinTolerance" },
    {
      name: "ignores an absent forecast",
      predicted: undefined,
      workers: 3,
      reason: "WithinTolerance",
    },
    {
      name: "ignores a non-finite one",
      predicted: Number.NaN,
      workers: 3,
      reason: "WithinTolerance",
    },
  ])("$name", ({ predicted, workers, reason }) => {
    const result = applyPrediction(held, {
      fleetWorkers: 3,
      predictedWorkers: predicted,
      predictionNote: "demand 9 slots in 3 s",
    });
    expect(result).toMatchObject({ workers, reason });
    if (reason === "PredictiveScaleUp") expect(result.message).toContain("demand 9 slots in 3 s");
  });
});

describe("decideScale with a forecast", () => {
  const signals = { slotUtilization: 0.6, pendingTasks: 0, inFlightTasks: 5 };
  it("scales out ahead of a forecast rise while the measured load is within its band", () => {
    const reactive = decideScale({
      nowMs: 0,
      readyWorkers: 2,
      startingWorkers: 0,
      signals,
      config,
      state: emptyAutoscaleState(),
    });
    expect(reactive).toMatchObject({ desiredWorkers: 2, reason: "WithinTolerance" });
    const predictive = decideScale({
      nowMs: 0,
      readyWorkers: 2,
      startingWorkers: 0,
      signals,
      config,
      state: emptyAutoscaleState(),
      predictedWorkers: 4,
    });
    expect(predictive).toMatchObject({ desiredWorkers: 4, reason: "PredictiveScaleUp" });
  });

  it("still respects max_workers", () => {
    const decision = decideScale({
      nowMs: 0,
      readyWorkers: 2,
      startingWorkers: 0,
      signals,
      config,
      state: emptyAutoscaleState(),
      predictedWorkers: 40,
    });
    expect(decision.desiredWorkers).toBe(10);
  });

  it("keeps scale-down reactive: a forecast fall does not shrink the fleet", () => {
    const idle = { slotUtilization: 0.5, pendingTasks: 0, inFlightTasks: 4 };
    const decision = decideScale({
      nowMs: 0,
      readyWorkers: 4,
      startingWorkers: 0,
      signals: idle,
      config,
      state: emptyAutoscaleState(),
      predictedWorkers: 1,
    });
    expect(decision.desiredWorkers).toBe(4);
  });
});

describe("the forecast's error gate and forecast-led scale-down", () => {
  // 8 ready workers at slot utilization 0.4: inside the band (0.3–0.8), so the reactive rule holds 8.
  const inBand = { slotUtilization: 0.4, pendingTasks: 0, inFlightTasks: 12.8 };
  const decide = (extra: Partial<AutoscaleInput>) =>
    decideScale({
      nowMs: 0,
      readyWorkers: 8,
      startingWorkers: 0,
      signals: inBand,
      config: { ...config, down: { ...config.down, stabilizationSec: 0 } },
      state: emptyAutoscaleState(),
      ...extra,
    });

  it.each([
    {
      name: "a trusted forecast of less ends the hold: down to ceil(8 × 0.4 / 0.55) = 6",
      extra: { predictedDemandWorkers: 4, predictionErrorRatio: 0.1 },
      workers: 6,
      reason: "PredictiveScaleDown",
    },
    {
      name: "the forecast's own need is the floor when it is above the measured one",
      extra: { predictedDemandWorkers: 7, predictionErrorRatio: 0.1 },
      workers: 7,
      reason: "PredictiveScaleDown",
    },
    {
      name: "a forecast of more than the fleet lowers nothing",
      extra: { predictedDemandWorkers: 9, predictionErrorRatio: 0.1 },
      workers: 8,
      reason: "WithinTolerance",
    },
    {
      name: "an error above the limit leaves the reactive hold",
      extra: { predictedDemandWorkers: 4, predictionErrorRatio: 0.35 },
      workers: 8,
      reason: "WithinTolerance",
    },
    {
      name: "an unmeasured error leaves the reactive hold (only a checked forecast may shrink the fleet)",
      extra: { predictedDemandWorkers: 4 },
      workers: 8,
      reason: "WithinTolerance",
    },
    {
      name: "an error above the limit ignores a scale-up ahead of the load too",
      extra: { predictedWorkers: 10, predictionErrorRatio: 0.35 },
      workers: 8,
      reason: "WithinTolerance",
    },
    {
      name: "a scale-up ahead of the load still needs no measured error (the optimizer does not send one)",
      extra: { predictedWorkers: 10 },
      workers: 10,
      reason: "PredictiveScaleUp",
    },
  ])("$name", ({ extra, workers, reason }) => {
    expect(decide(extra)).toMatchObject({ desiredWorkers: workers, reason });
  });

  it("still waits out the scale-down window: a lowered recommendation is held by the higher ones before it", () => {
    const windowed = { ...config, down: { ...config.down, stabilizationSec: 300 } };
    const first = decideScale({
      nowMs: 0,
      readyWorkers: 8,
      startingWorkers: 0,
      signals: inBand,
      config: windowed,
      state: emptyAutoscaleState(),
    });
    const second = decideScale({
      nowMs: 15_000,
      readyWorkers: 8,
      startingWorkers: 0,
      signals: inBand,
      config: windowed,
      state: first.state,
      predictedDemandWorkers: 4,
      predictionErrorRatio: 0.1,
    });
    expect(second.desiredWorkers).toBe(8);
    expect(second.rawDesiredWorkers).toBe(6);
  });
});
