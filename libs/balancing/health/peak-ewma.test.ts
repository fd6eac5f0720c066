import { describe, expect, it } from "vitest";
import { peakEwmaAt, updatePeakEwma } from "./peak-ewma.js";

const DECAY_MS = 10_000;

describe("peak EWMA", () => {
  it("starts at the first sample", () => {
    expect(updatePeakEwma(undefined, 25, 0, DECAY_MS)).toEqual({ estimateMs: 25, updatedAtMs: 0 });
  });

  it("peaks immediately on a slow sample", () => {
    const state = updatePeakEwma({ estimateMs: 10, updatedAtMs: 0 }, 200, 1, DECAY_MS);
    expect(state.estimateMs).toBe(200);
  });

  it("decays toward faster samples with weight 1 - e^(-elapsed/decay)", () => {
    const cases = [
      { name: "no time passed: unchanged", elapsedMs: 0, expectedMs: 200 },
      {
        name: "one decay period: 1/e of the way back",
        elapsedMs: DECAY_MS,
        expectedMs: 10 + 190 / Math.E,
      },
      { name: "many periods: at the fast sample", elapsedMs: 20 * DECAY_MS, expectedMs: 10 },
    ];
    for (const c of cases) {
      const state = updatePeakEwma({ estimateMs: 200, updatedAtMs: 0 }, 10, c.elapsedMs, DECAY_MS);
      expect(state.estimateMs, c.name).toBeCloseTo(c.expectedMs, 6);
    }
  });

  it("reads an idle worker's estimate decayed toward zero without storing it", () => {
    const state = { estimateMs: 100, updatedAtMs: 0 };
    expect(peakEwmaAt(state, DECAY_MS, DECAY_MS)).toBeCloseTo(100 / Math.E, 6);
    expect(state.estimateMs).toBe(100);
  });
});
