import { describe, expect, it } from "vitest";
import { runLatencySimulation } from "./balancing-latency-sim.js";

describe("balancing latency simulator", () => {
  const small = { tasks: 6_000, warmupTasks: 500 };

  it("replays exactly for the same seed", () => {
    expect(runLatencySimulation(small)).toEqual(runLatencySimulation(small));
  });

  it("sends P2C-EWMA less work to the slowest worker than round robin", () => {
    const [roundRobin, , p2c] = runLatencySimulation(small).strategies;
    expect(p2c?.strategy).toBe("p2c_peak_ewma");
    expect(p2c!.slowestShare).toBeLessThan(roundRobin!.slowestShare);
  });
});
