import { describe, expect, it } from "vitest";
import type { RecommendationRecord } from "./autoscale-types.js";
import type { ScaleCandidate } from "./scale-candidate.js";
import { recordRecommendation, stabilize, type StabilizationInput } from "./stabilization.js";

const NOW_MS = 1_700_000_000_000;

function records(...entries: Array<[ageSec: number, workers: number]>): RecommendationRecord[] {
  return entries.map(([ageSec, workers]) => ({ atMs: NOW_MS - ageSec * 1000, workers }));
}

function window(
  fleetWorkers: number,
  recommendations: RecommendationRecord[],
  upSec = 0,
  downSec = 300,
): StabilizationInput {
  return {
    fleetWorkers,
    nowMs: NOW_MS,
    up: { stabilizationSec: upSec },
    down: { stabilizationSec: downSec },
    recommendations,
  };
}

const raw = (workers: number): ScaleCandidate => ({ workers, reason: "ScaleUp", message: "raw" });

describe("stabilize", () => {
  const cases = [
    {
      name: "scales up at once with an up window of 0",
      raw: 8,
      input: window(4, records([10, 2], [20, 3])),
      workers: 8,
      reason: "ScaleUp",
    },
    {
      name: "scales up to the lowest recommendation of the up window",
      raw: 8,
      input: window(4, records([10, 6], [50, 5], [70, 2]), 60),
      workers: 5,
      reason: "ScaleUpStabilized",
    },
    {
      name: "does not scale up while the up window holds one at or below the current count",
      raw: 8,
      input: window(4, records([10, 3]), 60),
      workers: 4,
      reason: "ScaleUpStabilized",
    },
    {
      name: "scales down to the highest recommendation of the down window",
      raw: 2,
      input: window(10, records([100, 6], [200, 4], [301, 9])),
      workers: 6,
      reason: "ScaleDownStabilized",
    },
    {
      name: "does not scale down while the down window holds one at or above the current count",
      raw: 2,
      input: window(10, records([299, 10])),
      workers: 10,
      reason: "ScaleDownStabilized",
    },
    {
      name: "a record exactly one window old has left it",
      raw: 2,
      input: window(10, records([300, 10])),
      workers: 2,
      reason: "ScaleUp",
    },
    {
      name: "keeps the current count when the raw one is the same",
      raw: 5,
      input: window(5, records([10, 9], [20, 1]), 60),
      workers: 5,
      reason: "ScaleUp",
    },
  ] as const;
  for (const c of cases) {
    it(c.name, () => {
      const result = stabilize(raw(c.raw), c.input);
      expect({ workers: result.workers, reason: result.reason }).toEqual({
        workers: c.workers,
        reason: c.reason,
      });
    });
  }

  it("says which recommendation held it and names the window's key", () => {
    expect(stabilize(raw(2), window(10, records([100, 6]))).message).toBe(
      "raw; held at 6 by the highest recommendation (6) of the last 300 s (scale_down_stabilization_sec)",
    );
  });
});

describe("recordRecommendation", () => {
  it("keeps the records inside the longer window and appends the current one", () => {
    const kept = recordRecommendation(window(4, records([400, 1], [300, 2], [100, 3]), 60, 300), 7);
    expect(kept).toEqual([...records([100, 3]), { atMs: NOW_MS, workers: 7 }]);
  });

  it("keeps only the current one when both windows are 0", () => {
    expect(recordRecommendation(window(4, records([15, 3]), 0, 0), 7)).toEqual([
      { atMs: NOW_MS, workers: 7 },
    ]);
  });
});
