import { describe, expect, it } from "vitest";
import { addLoadSample, loadSlopePerMs, projectInFlight, type LoadTrend } from "./load-trend.js";

const OPTIONS = { windowMs: 10_000, maxSamples: 10 }; // at most one sample per second

function trendOf(samples: [atMs: number, inFlight: number][]): LoadTrend {
  return samples.reduce<LoadTrend>(
    (trend, [atMs, inFlight]) => addLoadSample(trend, { atMs, inFlight }, OPTIONS),
    { samples: [] },
  );
}

describe("load trend", () => {
  it("keeps samples spaced over the window and drops those older than it", () => {
    const trend = trendOf([
      [0, 1],
      [400, 9],
      [1_000, 2],
      [12_000, 3],
    ]);
    expect(trend.samples).toEqual([{ atMs: 12_000, inFlight: 3 }]);
    expect(
      trendOf([
        [0, 1],
        [400, 9],
        [1_000, 2],
      ]).samples.map((s) => s.atMs),
    ).toEqual([0, 1_000]);
  });

  const slopes: { name: string; samples: [number, number][]; perSecond: number }[] = [
    { name: "is zero with one sample", samples: [[0, 4]], perSecond: 0 },
    {
      name: "follows a steady climb",
      samples: [
        [0, 1],
        [1_000, 2],
        [2_000, 3],
      ],
      perSecond: 1,
    },
    {
      name: "fits a least-squares line through noise",
      samples: [
        [0, 4],
        [1_000, 2],
        [2_000, 2],
        [3_000, 0],
      ],
      perSecond: -1.2,
    },
  ];
  for (const c of slopes)
    it(`slope ${c.name}`, () =>
      expect(loadSlopePerMs(trendOf(c.samples)) * 1_000).toBeCloseTo(c.perSecond, 9));

  it("projects ahead and never below zero", () => {
    expect(
      projectInFlight(
        3,
        trendOf([
          [0, 1],
          [1_000, 2],
          [2_000, 3],
        ]),
        5_000,
      ),
    ).toBeCloseTo(8);
    expect(
      projectInFlight(
        1,
        trendOf([
          [0, 5],
          [1_000, 3],
          [2_000, 1],
        ]),
        5_000,
      ),
    ).toBe(0);
  });
});
