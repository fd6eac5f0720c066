import { describe, expect, it } from "vitest";
import { createForecastScoring } from "./forecast-scoring.js";

describe("forecast scoring", () => {
  it("scores a forecast once a sample at or after its time comes, relative to the actual demand", () => {
    const scoring = createForecastScoring();
    scoring.expect(10_000, 8);
    scoring.expect(20_000, 3);
    expect(scoring.settle(9_999, 100)).toEqual([]);
    expect(scoring.settle(10_000, 10)).toEqual([0.2]);
    // An actual of 0 is taken as 1, so an idle mesh gives a finite error.
    expect(scoring.settle(25_000, 0)).toEqual([3]);
    expect(scoring.pending).toBe(0);
  });

  it("keeps at most maxPending forecasts, dropping the oldest", () => {
    const scoring = createForecastScoring(2);
    for (const [atMs, demand] of [
      [1, 1],
      [2, 2],
      [3, 3],
    ] as const)
      scoring.expect(atMs, demand);
    expect(scoring.pending).toBe(2);
    expect(scoring.settle(3, 4)).toEqual([0.5, 0.25]);
  });
});
