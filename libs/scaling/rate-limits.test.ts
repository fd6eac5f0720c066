import { describe, expect, it } from "vitest";
import type { DirectionBehavior, RatePolicy, ScaleEventRecord } from "./autoscale-types.js";
import { applyRateLimits, recordScaleEvent, type RateLimitInput } from "./rate-limits.js";
import type { ScaleCandidate } from "./scale-candidate.js";

const NOW_MS = 1_700_000_000_000;

const workers = (value: number, periodSec: number): RatePolicy => ({
  kind: "workers",
  value,
  periodSec,
});
const percent = (value: number, periodSec: number): RatePolicy => ({
  kind: "percent",
  value,
  periodSec,
});

function rules(
  policies: RatePolicy[],
  select: DirectionBehavior["select"] = "max",
): DirectionBehavior {
  return { stabilizationSec: 0, tolerance: 0.1, policies, select };
}

function event(ageSec: number, fromWorkers: number, toWorkers: number): ScaleEventRecord {
  return { atMs: NOW_MS - ageSec * 1000, fromWorkers, toWorkers };
}

function limits(
  fleetWorkers: number,
  options: {
    up?: DirectionBehavior;
    down?: DirectionBehavior;
    events?: ScaleEventRecord[];
    isWaking?: boolean;
  },
): RateLimitInput {
  return {
    fleetWorkers,
    nowMs: NOW_MS,
    events: options.events ?? [],
    up: options.up ?? rules([]),
    down: options.down ?? rules([]),
    isWaking: options.isWaking ?? false,
  };
}

const wants = (count: number): ScaleCandidate => ({
  workers: count,
  reason: "ScaleUp",
  message: "raw",
});

interface Case {
  readonly name: string;
  readonly candidate: number;
  readonly input: RateLimitInput;
  readonly workers: number;
  readonly reason: string;
}

describe("applyRateLimits", () => {
  const cases: Case[] = [
    {
      name: "no policies, no limit",
      candidate: 40,
      input: limits(4, {}),
      workers: 40,
      reason: "ScaleUp",
    },
    {
      name: "a workers policy adds at most its value per period",
      candidate: 10,
      input: limits(4, { up: rules([workers(2, 60)]) }),
      workers: 6,
      reason: "ScaleUpLimited",
    },
    {
      name: "a percent policy rounds up (HPA)",
      candidate: 10,
      input: limits(3, { up: rules([percent(50, 60)]) }),
      workers: 5,
      reason: "ScaleUpLimited",
    },
    {
      name: "counts from the fleet at the start of the period (current − added)",
      candidate: 10,
      input: limits(6, { up: rules([workers(3, 60)]), events: [event(30, 4, 6)] }),
      workers: 7,
      reason: "ScaleUpLimited",
    },
    {
      name: "events outside the period do not count",
      candidate: 10,
      input: limits(6, { up: rules([workers(3, 60)]), events: [event(60, 4, 6)] }),
      workers: 9,
      reason: "ScaleUpLimited",
    },
    {
      name: "removals in the period give room back to a scale-up (current − added + removed)",
      candidate: 10,
      input: limits(4, { up: rules([workers(2, 60)]), events: [event(20, 6, 4)] }),
      workers: 8,
      reason: "ScaleUpLimited",
    },
    {
      name: "a period already used up holds the count, never reverses it",
      candidate: 10,
      input: limits(8, { up: rules([workers(2, 60)]), events: [event(10, 4, 8)] }),
      workers: 8,
      reason: "ScaleUpLimited",
    },
    {
      name: "select max takes the policy allowing the most",
      candidate: 20,
      input: limits(4, { up: rules([workers(4, 15), percent(100, 15)]) }),
      workers: 8,
      reason: "ScaleUpLimited",
    },
    {
      name: "select min takes the policy allowing the least",
      candidate: 20,
      input: limits(4, { up: rules([workers(4, 15), percent(50, 15)], "min") }),
      workers: 6,
      reason: "ScaleUpLimited",
    },
    {
      name: "select disabled allows no scale-up",
      candidate: 20,
      input: limits(4, { up: rules([workers(4, 15)], "disabled") }),
      workers: 4,
      reason: "DirectionDisabled",
    },
    {
      name: "a limit that does not bite keeps the reason",
      candidate: 5,
      input: limits(4, { up: rules([workers(4, 15)]) }),
      workers: 5,
      reason: "ScaleUp",
    },
    {
      name: "a workers policy removes at most its value per period",
      candidate: 2,
      input: limits(10, { down: rules([workers(3, 60)]) }),
      workers: 7,
      reason: "ScaleDownLimited",
    },
    {
      name: "a percent policy on the way down rounds down (HPA)",
      candidate: 1,
      input: limits(5, { down: rules([percent(30, 60)]) }),
      workers: 3,
      reason: "ScaleDownLimited",
    },
    {
      name: "scale-downs count from the fleet at the start of the period (current + removed)",
      candidate: 1,
      input: limits(8, { down: rules([percent(50, 60)]), events: [event(30, 10, 8)] }),
      workers: 5,
      reason: "ScaleDownLimited",
    },
    {
      name: "select max on the way down takes the policy removing the most",
      candidate: 1,
      input: limits(10, { down: rules([workers(2, 60), percent(50, 60)]) }),
      workers: 5,
      reason: "ScaleDownLimited",
    },
    {
      name: "select min on the way down takes the policy removing the least",
      candidate: 1,
      input: limits(10, { down: rules([workers(2, 60), percent(50, 60)], "min") }),
      workers: 8,
      reason: "ScaleDownLimited",
    },
    {
      name: "select disabled allows no scale-down",
      candidate: 1,
      input: limits(10, { down: rules([], "disabled") }),
      workers: 10,
      reason: "DirectionDisabled",
    },
    {
      name: "a percent of an empty fleet is nothing, but a wake gets its first worker",
      candidate: 5,
      input: limits(0, { up: rules([percent(100, 15)]), isWaking: true }),
      workers: 1,
      reason: "ScaleUpLimited",
    },
    {
      name: "a wake past the first worker is paced like any scale-up",
      candidate: 9,
      input: limits(0, { up: rules([workers(4, 15)]), isWaking: true }),
      workers: 4,
      reason: "ScaleUpLimited",
    },
    {
      name: "a disabled scale-up still lets a wake start one worker",
      candidate: 9,
      input: limits(0, { up: rules([], "disabled"), isWaking: true }),
      workers: 1,
      reason: "DirectionDisabled",
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = applyRateLimits(wants(c.candidate), c.input);
      expect({ workers: result.workers, reason: result.reason }).toEqual({
        workers: c.workers,
        reason: c.reason,
      });
    });
  }

  it("names the policy that bit and the count at the period's start", () => {
    const result = applyRateLimits(
      wants(10),
      limits(6, { up: rules([workers(3, 60)]), events: [event(30, 4, 6)] }),
    );
    expect(result.message).toBe(
      "raw; limited to 7 by 3 workers per 60 s (4 at the start of the period)",
    );
  });
});

describe("recordScaleEvent", () => {
  const behaviors = { up: rules([workers(4, 15)]), down: rules([percent(50, 120)]) };
  it("appends a change and drops events older than the longest period", () => {
    const events = recordScaleEvent(
      { ...behaviors, nowMs: NOW_MS, events: [event(120, 1, 2), event(119, 2, 3)] },
      3,
      5,
    );
    expect(events).toEqual([event(119, 2, 3), { atMs: NOW_MS, fromWorkers: 3, toWorkers: 5 }]);
  });

  it("appends nothing when the count stays", () => {
    expect(recordScaleEvent({ ...behaviors, nowMs: NOW_MS, events: [] }, 3, 3)).toEqual([]);
  });
});
