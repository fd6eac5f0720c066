import { describe, expect, it } from "vitest";
import type { LoadRecord } from "./load-record.js";
import { recommendWorkers, type Recommendation, type RecommendationInput } from "./recommend.js";

const NOW_MS = 1_700_000_000_000;

/** A sample `ageSec` seconds before NOW_MS. */
function sample(
  ageSec: number,
  load: { workers: number; totalSlots: number; busySlots?: number; pendingTasks?: number },
): LoadRecord {
  return {
    observedAtMs: NOW_MS - ageSec * 1000,
    busySlots: 0,
    pendingTasks: 0,
    meanCpuUtilization: 0,
    arrivalRatePerSec: 0,
    completionRatePerSec: 0,
    ...load,
  };
}

/** Thresholds 0.30 / 0.80, so the ratio rule aims at 0.55. */
function input(
  samples: LoadRecord[],
  overrides: Partial<RecommendationInput> = {},
): RecommendationInput {
  return {
    samples,
    now: NOW_MS,
    windowSec: 60,
    minWorkers: 1,
    maxWorkers: 10,
    scaleUpThreshold: 0.8,
    scaleDownThreshold: 0.3,
    ...overrides,
  };
}

interface Case {
  readonly name: string;
  readonly input: RecommendationInput;
  readonly expected: Partial<Recommendation>;
  readonly messageIncludes?: string;
}

function expectRecommendation(actual: Recommendation, c: Case): void {
  const { utilization, ...exact } = c.expected;
  expect(actual).toMatchObject(exact);
  if (utilization !== undefined) expect(actual.utilization).toBeCloseTo(utilization, 9);
  if (c.messageIncludes !== undefined) expect(actual.message).toContain(c.messageIncludes);
}

describe("recommendWorkers", () => {
  const cases: Case[] = [
    {
      name: "keeps the count when mean utilization sits inside the band",
      input: input([sample(5, { workers: 4, totalSlots: 16, busySlots: 8 })]),
      expected: {
        currentWorkers: 4,
        desiredWorkers: 4,
        utilization: 0.5,
        reason: "WithinThresholds",
        samplesUsed: 1,
      },
      messageIncludes:
        "is within scale_down_threshold 0.30 and scale_up_threshold 0.80: keeping 4 workers",
    },
    {
      name: "treats a mean exactly on the up threshold as inside the band",
      input: input([sample(5, { workers: 1, totalSlots: 5, busySlots: 4 })]),
      expected: { desiredWorkers: 1, utilization: 0.8, reason: "WithinThresholds" },
    },
    {
      name: "scales up by the ratio of utilization to the middle of the band",
      // ceil(4 × 0.92 / 0.55) = ceil(6.69) = 7
      input: input([sample(5, { workers: 4, totalSlots: 25, busySlots: 23 })]),
      expected: {
        currentWorkers: 4,
        desiredWorkers: 7,
        utilization: 0.92,
        reason: "ScaleUp",
        message:
          "mean utilization 0.92 over 1 sample (60 s) is above scale_up_threshold 0.80: 4 → 7 workers",
      },
    },
    {
      name: "counts pending tasks as load",
      // (10 busy + 6 pending) / 16 slots = 1.0; ceil(4 × 1.0 / 0.55) = 8
      input: input([sample(5, { workers: 4, totalSlots: 16, busySlots: 10, pendingTasks: 6 })]),
      expected: { desiredWorkers: 8, utilization: 1, reason: "ScaleUp" },
    },
    {
      name: "scales down by the ratio of utilization to the middle of the band",
      // ceil(10 × 0.1 / 0.55) = ceil(1.82) = 2
      input: input([sample(5, { workers: 10, totalSlots: 40, busySlots: 4 })]),
      expected: { currentWorkers: 10, desiredWorkers: 2, utilization: 0.1, reason: "ScaleDown" },
      messageIncludes: "is below scale_down_threshold 0.30: 10 → 2 workers",
    },
    {
      name: "scales down by at least one worker when the ratio rounds back to the current count",
      // Band 0.50..0.52 aims at 0.51: ceil(10 × 0.49 / 0.51) = ceil(9.6) = 10, so one step down.
      input: input([sample(5, { workers: 10, totalSlots: 100, busySlots: 49 })], {
        scaleDownThreshold: 0.5,
        scaleUpThreshold: 0.52,
      }),
      expected: { desiredWorkers: 9, reason: "ScaleDown" },
    },
    {
      name: "averages utilization over every sample inside the window and ignores older ones",
      // mean(0.5, 1.0, 1.0) = 0.833; ceil(4 × 0.833 / 0.55) = 7. The idle sample 90 s ago is outside.
      input: input([
        sample(90, { workers: 4, totalSlots: 16, busySlots: 0 }),
        sample(45, { workers: 4, totalSlots: 16, busySlots: 8 }),
        sample(30, { workers: 4, totalSlots: 16, busySlots: 16 }),
        sample(15, { workers: 4, totalSlots: 16, busySlots: 16 }),
      ]),
      expected: { desiredWorkers: 7, utilization: 5 / 6, reason: "ScaleUp", samplesUsed: 3 },
      messageIncludes: "over 3 samples (60 s)",
    },
    {
      name: "takes the current count from the newest sample whatever the order",
      input: input([
        sample(10, { workers: 5, totalSlots: 20, busySlots: 10 }),
        sample(40, { workers: 3, totalSlots: 12, busySlots: 6 }),
      ]),
      expected: { currentWorkers: 5, desiredWorkers: 5, reason: "WithinThresholds" },
    },
    {
      name: "holds at max_workers and says what the load called for",
      // (16 busy + 16 pending) / 16 = 2.0; ceil(4 × 2 / 0.55) = 15
      input: input([sample(5, { workers: 4, totalSlots: 16, busySlots: 16, pendingTasks: 16 })], {
        maxWorkers: 6,
      }),
      expected: { currentWorkers: 4, desiredWorkers: 6, utilization: 2, reason: "AtMaximum" },
      messageIncludes:
        "is above scale_up_threshold 0.80 and calls for 15 workers; held at max_workers 6: 4 → 6 workers",
    },
    {
      name: "reports AtMaximum when already at max_workers and still busy",
      input: input([sample(5, { workers: 4, totalSlots: 16, busySlots: 15 })], { maxWorkers: 4 }),
      expected: { desiredWorkers: 4, reason: "AtMaximum" },
      messageIncludes: "held at max_workers 4: keeping 4 workers",
    },
    {
      name: "brings a fleet above max_workers back down even inside the band",
      input: input([sample(5, { workers: 12, totalSlots: 48, busySlots: 24 })]),
      expected: { currentWorkers: 12, desiredWorkers: 10, reason: "AtMaximum" },
      messageIncludes: "held at max_workers 10: 12 → 10 workers",
    },
    {
      name: "holds at min_workers when the load calls for fewer",
      // ceil(4 × 0.1 / 0.55) = 1, below min_workers 3
      input: input([sample(5, { workers: 4, totalSlots: 40, busySlots: 4 })], { minWorkers: 3 }),
      expected: { desiredWorkers: 3, reason: "AtMinimum" },
      messageIncludes: "calls for 1 worker; held at min_workers 3: 4 → 3 workers",
    },
    {
      name: "starts one worker when there are none and tasks are waiting",
      input: input([sample(5, { workers: 0, totalSlots: 0, pendingTasks: 5 })], { minWorkers: 0 }),
      expected: { currentWorkers: 0, desiredWorkers: 1, reason: "ScaleUp" },
      messageIncludes: "no workers and 5 pending tasks: 0 → 1 worker",
    },
    {
      name: "starts min_workers when there are none, tasks wait and the floor is higher",
      input: input([sample(5, { workers: 0, totalSlots: 0, pendingTasks: 5 })], { minWorkers: 3 }),
      expected: { desiredWorkers: 3, reason: "AtMinimum" },
    },
    {
      name: "starts none for waiting tasks when max_workers is 0",
      input: input([sample(5, { workers: 0, totalSlots: 0, pendingTasks: 5 })], {
        minWorkers: 0,
        maxWorkers: 0,
      }),
      expected: { desiredWorkers: 0, reason: "AtMaximum" },
    },
    {
      name: "leaves an empty, idle fleet empty when min_workers allows",
      input: input([sample(5, { workers: 0, totalSlots: 0 })], { minWorkers: 0 }),
      expected: {
        currentWorkers: 0,
        desiredWorkers: 0,
        utilization: 0,
        reason: "WithinThresholds",
      },
      messageIncludes: "no workers and no pending tasks: keeping 0 workers",
    },
    {
      name: "reports NoData and the floor before any sample arrives",
      input: input([], { minWorkers: 2 }),
      expected: {
        currentWorkers: 0,
        desiredWorkers: 2,
        utilization: 0,
        reason: "NoData",
        samplesUsed: 0,
      },
      messageIncludes: "no load samples received yet; held at min_workers 2: 0 → 2 workers",
    },
    {
      name: "reports NoData, keeps the last known count and says how old it is when every sample is stale",
      input: input([sample(300, { workers: 4, totalSlots: 16, busySlots: 16 })]),
      expected: { currentWorkers: 4, desiredWorkers: 4, reason: "NoData", samplesUsed: 0 },
      messageIncludes:
        "no load sample in the last 60 s (the newest is 300 s old): keeping 4 workers",
    },
  ];

  for (const c of cases) {
    it(c.name, () => expectRecommendation(recommendWorkers(c.input), c));
  }

  it("counts a sample stamped slightly ahead of the clock", () => {
    const ahead = sample(-0.5, { workers: 2, totalSlots: 8, busySlots: 8 });
    expect(recommendWorkers(input([ahead])).samplesUsed).toBe(1);
  });

  it("leaves samples without slots out of the mean but still counts them as used", () => {
    const result = recommendWorkers(
      input([
        sample(30, { workers: 0, totalSlots: 0 }),
        sample(10, { workers: 2, totalSlots: 8, busySlots: 4 }),
      ]),
    );
    expect(result).toMatchObject({ utilization: 0.5, samplesUsed: 2, reason: "WithinThresholds" });
  });
});
