import { describe, expect, it } from "vitest";
import { planCapacity, type CapacityPlanInput } from "./capacity-plan.js";
import type { CapacityPlan, Forecast, ForecastPoint } from "./forecast-types.js";

/** 11:00 UTC. */
const NOW_MS = Date.UTC(2024, 2, 5, 11, 0, 0);
const HOUR_MS = 3_600_000;

/** A point `inHours` after NOW_MS. */
function point(inHours: number, value: number, upper = value, lower = value): ForecastPoint {
  return { atMs: NOW_MS + inHours * HOUR_MS, value, lower, upper };
}

function forecast(points: ForecastPoint[], overrides: Partial<Forecast> = {}): Forecast {
  return {
    model: "holt",
    stepSec: 3600,
    confidence: 0.95,
    points,
    fittedOn: 100,
    message: "holt: test",
    ...overrides,
  };
}

function input(
  points: ForecastPoint[],
  overrides: Partial<CapacityPlanInput> = {},
): CapacityPlanInput {
  return {
    forecast: forecast(points),
    slotsPerWorker: 8,
    targetUtilization: 0.5,
    maxWorkers: 10,
    nowMs: NOW_MS,
    ...overrides,
  };
}

/** Rises to 42 (≤ 51) at 14:00 and falls back. */
const AFTERNOON = [
  point(1, 20, 25),
  point(2, 35, 43),
  point(3, 42, 51),
  point(4, 30, 40),
  point(5, 12, 18),
];

interface Case {
  readonly name: string;
  readonly input: CapacityPlanInput;
  readonly expected: Partial<CapacityPlan>;
  readonly recommendation?: string;
  readonly recommendationIncludes?: string;
}

describe("planCapacity", () => {
  const cases: Case[] = [
    {
      name: "sizes the fleet on the upper bound at the peak and says how short max_workers is",
      // ceil(51 / (8 × 0.5)) = ceil(12.75) = 13
      input: input(AFTERNOON),
      expected: {
        horizonSec: 5 * 3600,
        peakAtMs: NOW_MS + 3 * HOUR_MS,
        peakDemand: 42,
        peakDemandUpper: 51,
        workersNeeded: 13,
        maxWorkers: 10,
        isMaxSufficient: false,
      },
      recommendation:
        "peak demand 42 slots (≤ 51 at 95%) at 14:00 UTC in 3 h: 13 workers of 8 slots at 0.50 utilization; max_workers 10 is short by 3: raise it or expect queueing",
    },
    {
      name: "says how much max_workers has to spare when it suffices",
      input: input(AFTERNOON, { maxWorkers: 20 }),
      expected: { workersNeeded: 13, isMaxSufficient: true },
      recommendationIncludes: "; max_workers 20 suffices with 7 to spare",
    },
    {
      name: "calls a max_workers equal to the need just enough",
      input: input(AFTERNOON, { maxWorkers: 13 }),
      expected: { workersNeeded: 13, isMaxSufficient: true },
      recommendationIncludes: "; max_workers 13 is just enough",
    },
    {
      name: "takes the highest upper bound even where the point forecast is not at its peak",
      // The wide interval at +4 h sizes the fleet: ceil(60 / 4) = 15.
      input: input([point(1, 30, 35), point(3, 42, 45), point(4, 38, 60)]),
      expected: {
        peakAtMs: NOW_MS + 3 * HOUR_MS,
        peakDemand: 42,
        peakDemandUpper: 60,
        workersNeeded: 15,
      },
      recommendationIncludes: "peak demand 42 slots (≤ 60 at 95%) at 14:00 UTC",
    },
    {
      name: "takes the earliest of equal peaks",
      input: input([point(1, 10), point(2, 40), point(6, 40)]),
      expected: { peakAtMs: NOW_MS + 2 * HOUR_MS, peakDemand: 40, workersNeeded: 10 },
    },
    {
      name: "asks for no extra worker when the division lands a hair above a whole number",
      // 6.3 / (3 × 0.7) is 3.0000000000000004 in floating point.
      input: input([point(1, 6.3)], { slotsPerWorker: 3, targetUtilization: 0.7 }),
      expected: { workersNeeded: 3 },
      recommendationIncludes: ": 3 workers of 3 slots at 0.70 utilization",
    },
    {
      name: "needs no workers for a forecast of no demand",
      input: input([point(1, 0, 0), point(2, 0, 0)]),
      expected: { peakDemand: 0, peakDemandUpper: 0, workersNeeded: 0, isMaxSufficient: true },
      recommendationIncludes: ": 0 workers of 8 slots",
    },
    {
      name: "never asks for fewer than 0 workers",
      input: input([point(1, -5, -1, -9)]),
      expected: { peakDemand: -5, workersNeeded: 0, isMaxSufficient: true },
    },
    {
      name: "sizes on the value where an interval's upper bound is below it",
      input: input([point(1, 20, 10)]),
      expected: { peakDemandUpper: 20, workersNeeded: 5 },
    },
    {
      name: "makes no plan from an empty forecast",
      input: input([]),
      expected: {
        horizonSec: 0,
        peakAtMs: NOW_MS,
        peakDemand: 0,
        peakDemandUpper: 0,
        workersNeeded: 0,
        maxWorkers: 10,
        isMaxSufficient: true,
      },
      recommendation:
        "no forecast points ahead of now (holt, 0 points): nothing to plan; max_workers 10 stands",
    },
    {
      name: "ignores points that are already past",
      input: input([point(-2, 500, 600), point(1, 8, 12)]),
      expected: {
        peakAtMs: NOW_MS + HOUR_MS,
        peakDemand: 8,
        peakDemandUpper: 12,
        workersNeeded: 3,
        horizonSec: 3600,
      },
    },
    {
      name: "makes no plan from a forecast whose points are all past or not numbers",
      input: input([point(-1, 50), point(1, Number.NaN)]),
      expected: { workersNeeded: 0, isMaxSufficient: true },
      recommendationIncludes: "no forecast points ahead of now (holt, 2 points)",
    },
    {
      name: "says a near peak in minutes",
      input: input([point(0.75, 4)]),
      expected: { workersNeeded: 1 },
      recommendationIncludes: "at 11:45 UTC in 45 min: 1 worker of 8 slots",
    },
    {
      name: "gives the date of a peak more than a day ahead",
      input: input([point(60, 4)]),
      expected: { horizonSec: 60 * 3600 },
      recommendationIncludes: "at 2024-03-07 23:00 UTC in 2.5 d",
    },
    {
      name: "formats the peak's time with the formatter given",
      input: input(AFTERNOON, { formatTime: (atMs) => `T+${(atMs - NOW_MS) / HOUR_MS}h` }),
      expected: { workersNeeded: 13 },
      recommendationIncludes: "at T+3h in 3 h",
    },
    {
      name: "states the forecast's confidence",
      input: { ...input(AFTERNOON), forecast: forecast(AFTERNOON, { confidence: 0.8 }) },
      expected: { peakDemandUpper: 51 },
      recommendationIncludes: "(≤ 51 at 80%)",
    },
  ];

  it.each(cases)("$name", (c) => {
    const plan = planCapacity(c.input);
    expect(plan).toMatchObject(c.expected);
    if (c.recommendation !== undefined) expect(plan.recommendation).toBe(c.recommendation);
    if (c.recommendationIncludes !== undefined)
      expect(plan.recommendation).toContain(c.recommendationIncludes);
  });

  it.each([
    { name: "no slots per worker", overrides: { slotsPerWorker: 0 } },
    { name: "a target utilization of 0", overrides: { targetUtilization: 0 } },
    { name: "a target utilization above 1", overrides: { targetUtilization: 1.2 } },
  ])("rejects $name", ({ overrides }) => {
    expect(() => planCapacity(input(AFTERNOON, overrides))).toThrow(RangeError);
  });
});
