import { describe, expect, it } from "vitest";
import { slowStartWeight, type SlowStartOptions } from "./slow-start.js";

const LINEAR: SlowStartOptions = { windowMs: 30_000, aggression: 1, minWeightPercent: 10 };

describe("slow start", () => {
  const cases: {
    name: string;
    elapsedMs: number;
    options?: Partial<SlowStartOptions>;
    expected: number;
  }[] = [
    { name: "starts at the minimum weight", elapsedMs: 0, expected: 0.1 },
    { name: "holds the minimum while the ramp is below it", elapsedMs: 2_000, expected: 0.1 },
    { name: "ramps linearly with aggression 1", elapsedMs: 15_000, expected: 0.5 },
    { name: "reaches full weight at the end of the window", elapsedMs: 30_000, expected: 1 },
    { name: "stays at full weight after the window", elapsedMs: 90_000, expected: 1 },
    {
      name: "ramps faster early with a higher aggression",
      elapsedMs: 7_500,
      options: { aggression: 2 },
      expected: 0.5,
    },
    {
      name: "honours a different minimum",
      elapsedMs: 0,
      options: { minWeightPercent: 50 },
      expected: 0.5,
    },
    {
      name: "is full weight at once with no window",
      elapsedMs: 0,
      options: { windowMs: 0 },
      expected: 1,
    },
  ];
  for (const c of cases) {
    it(c.name, () =>
      expect(slowStartWeight(1_000, 1_000 + c.elapsedMs, { ...LINEAR, ...c.options })).toBeCloseTo(
        c.expected,
        9,
      ),
    );
  }

  it("never decreases over the window", () => {
    let previous = 0;
    for (let elapsedMs = 0; elapsedMs <= 31_000; elapsedMs += 250) {
      const weight = slowStartWeight(0, elapsedMs, { ...LINEAR, aggression: 1.7 });
      expect(weight).toBeGreaterThanOrEqual(previous);
      previous = weight;
    }
  });
});
