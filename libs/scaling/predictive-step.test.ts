import { describe, expect, it } from "vitest";
import { decideScale, emptyAutoscaleState } from "./autoscale-policy.js";
import type { AutoscaleConfig } from "./autoscale-types.js";
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
