import { describe, expect, it } from "vitest";
import { formatHashingReport, runHashingSimulation } from "./hashing-sim.js";

describe("hashing simulator", () => {
  const small = {
    keys: 2_000,
    placements: 3_000,
    warmupPlacements: 500,
    trials: 1,
    sweep: [1, Number.POSITIVE_INFINITY],
  };
  const result = runHashingSimulation(small);

  it("replays exactly for the same seed", () => {
    expect(runHashingSimulation(small)).toEqual(result);
    expect(formatHashingReport(result)).toContain("rendezvous + bounded (K=all)");
  });

  it("moves no key between uninvolved workers under rendezvous", () => {
    const rendezvous = result.spread.find((r) => r.label.startsWith("rendezvous + bounded"))!;
    expect(rendezvous.strayOnAdd).toBe(0);
    expect(rendezvous.strayOnRemove).toBe(0);
  });

  it("holds every bounded strategy at ⌈1.25 · average⌉ under skew, and the unbounded baseline does not", () => {
    for (const row of [...result.skew, ...result.sweep]) {
      if (row.label === "rendezvous, unbounded") expect(row.maxOverMeanMax).toBeGreaterThan(1.25);
      else expect(row.maxOverMeanMax).toBeLessThanOrEqual(1.25);
    }
  });

  it("feeds the quietest worker more with overflow to the least loaded than with the paper's next-in-order", () => {
    for (const scenario of ["zipf", "hot_key"] as const) {
      const [k1, kAll] = result.sweep.filter((r) => r.scenario === scenario);
      expect(kAll!.quietestOverMeanP50).toBeGreaterThan(k1!.quietestOverMeanP50);
    }
  });
});
