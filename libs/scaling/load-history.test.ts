import { describe, expect, it } from "vitest";
import { createLoadHistory } from "./load-history.js";
import type { LoadRecord } from "./load-record.js";

function recordAt(observedAtMs: number, workers = 1): LoadRecord {
  return {
    observedAtMs,
    workers,
    totalSlots: 4,
    busySlots: 0,
    pendingTasks: 0,
    meanCpuUtilization: 0,
    arrivalRatePerSec: 0,
    completionRatePerSec: 0,
  };
}

const times = (records: readonly LoadRecord[]): number[] => records.map((r) => r.observedAtMs);

describe("createLoadHistory", () => {
  it("returns samples in arrival order", () => {
    const history = createLoadHistory({ maxSamples: 10, horizonSec: 60 });
    for (const t of [1_000, 2_000, 3_000]) history.append(recordAt(t), t);
    expect(times(history.samples(3_000))).toEqual([1_000, 2_000, 3_000]);
  });

  it("keeps at most maxSamples, dropping the oldest first, across several wraps of the ring", () => {
    const history = createLoadHistory({ maxSamples: 3, horizonSec: 3600 });
    for (let t = 1; t <= 8; t += 1) history.append(recordAt(t * 1000), t * 1000);
    expect(history.size).toBe(3);
    expect(times(history.samples(8_000))).toEqual([6_000, 7_000, 8_000]);
  });

  it("drops samples older than the horizon", () => {
    const history = createLoadHistory({ maxSamples: 10, horizonSec: 60 });
    history.append(recordAt(0), 0);
    history.append(recordAt(30_000), 30_000);
    history.append(recordAt(70_000), 70_000);
    expect(times(history.samples(70_000))).toEqual([30_000, 70_000]);
    expect(history.size).toBe(2);
    expect(times(history.samples(95_000))).toEqual([70_000]);
  });

  it("keeps a sample exactly on the horizon", () => {
    const history = createLoadHistory({ maxSamples: 10, horizonSec: 60 });
    history.append(recordAt(0), 0);
    expect(times(history.samples(60_000))).toEqual([0]);
  });

  it("does not keep a sample already past the horizon when it arrives", () => {
    const history = createLoadHistory({ maxSamples: 10, horizonSec: 60 });
    history.append(recordAt(0), 61_000);
    expect(history.size).toBe(0);
  });

  it("filters out a late straggler that expires behind newer samples", () => {
    const history = createLoadHistory({ maxSamples: 10, horizonSec: 60 });
    history.append(recordAt(50_000), 50_000);
    history.append(recordAt(10_000), 50_000); // arrived late, older than the one before it
    history.append(recordAt(60_000), 60_000);
    expect(times(history.samples(75_000))).toEqual([50_000, 60_000]);
  });

  it.each([
    { name: "zero samples", options: { maxSamples: 0, horizonSec: 60 } },
    { name: "fractional samples", options: { maxSamples: 2.5, horizonSec: 60 } },
    { name: "a zero horizon", options: { maxSamples: 10, horizonSec: 0 } },
  ])("refuses $name", ({ options }) => {
    expect(() => createLoadHistory(options)).toThrow(RangeError);
  });
});
