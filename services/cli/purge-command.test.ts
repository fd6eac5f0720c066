import { describe, expect, it } from "vitest";
import { purgeCutoffs } from "./purge-command.js";

describe("purge slices", () => {
  const cases: {
    name: string;
    oldestMs: number | undefined;
    cutoffMs: number;
    slices: number;
    cutoffs: number[];
  }[] = [
    {
      name: "one call on an empty ledger",
      oldestMs: undefined,
      cutoffMs: 1000,
      slices: 10,
      cutoffs: [1000],
    },
    {
      name: "one call when every task is newer than the cut-off",
      oldestMs: 1500,
      cutoffMs: 1000,
      slices: 10,
      cutoffs: [1000],
    },
    {
      name: "one call when the oldest task is exactly at the cut-off",
      oldestMs: 1000,
      cutoffMs: 1000,
      slices: 10,
      cutoffs: [1000],
    },
    {
      name: "even slices from the oldest task, the last at the cut-off",
      oldestMs: 0,
      cutoffMs: 1000,
      slices: 4,
      cutoffs: [250, 500, 750, 1000],
    },
    {
      name: "whole milliseconds, the last one exact",
      oldestMs: 0,
      cutoffMs: 10,
      slices: 3,
      cutoffs: [3, 6, 10],
    },
    {
      name: "one slice asked for is one call",
      oldestMs: 0,
      cutoffMs: 10,
      slices: 1,
      cutoffs: [10],
    },
  ];
  it.each(cases)("$name", ({ oldestMs, cutoffMs, slices, cutoffs }) => {
    expect(purgeCutoffs(oldestMs, cutoffMs, slices)).toEqual(cutoffs);
  });

  it("always ends at the cut-off and never goes back", () => {
    for (const [oldestMs, cutoffMs] of [
      [1, 2],
      [0, 7],
      [1_700_000_000_123, 1_700_000_999_999],
    ] as const) {
      const cutoffs = purgeCutoffs(oldestMs, cutoffMs, 10);
      expect(cutoffs.at(-1)).toBe(cutoffMs);
      for (let i = 1; i < cutoffs.length; i += 1)
        expect(cutoffs[i]).toBeGreaterThanOrEqual(cutoffs[i - 1] as number);
    }
  });
});
