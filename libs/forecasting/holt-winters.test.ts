import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createSeededRandom } from "../balancing/seeded-random.js";
import {
  fitHolt,
  fitHoltWinters,
  predict,
  predictionSigma,
  zForConfidence,
  type SmoothingFit,
} from "./holt-winters.js";

/** Standard normal draws from a seeded source (Box-Muller). */
function gaussian(seed: number): () => number {
  const random = createSeededRandom(seed);
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

const ramp = (length: number, at: (t: number) => number): number[] =>
  Array.from({ length }, (_, t) => at(t));
const sine = (t: number): number => 50 + 20 * Math.sin((2 * Math.PI * t) / 24);
const rmse = (actual: readonly number[], predicted: readonly number[]): number =>
  Math.sqrt(
    actual.reduce((sum, a, i) => sum + (a - (predicted[i] as number)) ** 2, 0) / actual.length,
  );

describe("zForConfidence", () => {
  it.each([
    { confidence: 0.5, z: 0.6745 },
    { confidence: 0.8, z: 1.2816 },
    { confidence: 0.95, z: 1.96 },
    { confidence: 0.99, z: 2.5758 },
  ])("gives z = $z for $confidence", ({ confidence, z }) => {
    expect(zForConfidence(confidence)).toBeCloseTo(z, 3);
  });

  it.each([0, 1, -0.2, 1.5, Number.NaN])("refuses confidence %s", (confidence) => {
    expect(() => zForConfidence(confidence)).toThrow(RangeError);
  });
});

describe("fitHolt", () => {
  it("continues a linear ramp exactly, with no error to widen the interval", () => {
    const fit = fitHolt(ramp(50, (t) => 10 + 2 * t));
    expect(fit.trend).toBeCloseTo(2, 9);
    expect(fit.sigma).toBeCloseTo(0, 9);
    for (const step of predict(fit, { count: 10, confidence: 0.95 })) {
      expect(step.value).toBeCloseTo(10 + 2 * (49 + step.step), 6);
      expect(step.upper - step.lower).toBeCloseTo(0, 9);
    }
  });

  it("gives a flat forecast with a zero-width interval for a constant", () => {
    const fit = fitHolt(ramp(30, () => 7));
    expect(
      predict(fit, { count: 5, confidence: 0.95 }).map(({ value, lower, upper }) => [
        value,
        lower,
        upper,
      ]),
    ).toEqual(Array(5).fill([7, 7, 7]));
  });

  it("picks a small alpha for noise around a level and a large one for a random walk", () => {
    const noise = gaussian(11);
    const level = fitHolt(ramp(300, () => 100 + 5 * noise()));
    let walk = 100;
    const random = fitHolt(ramp(300, () => (walk += 5 * noise())));
    expect(level.alpha).toBeLessThanOrEqual(0.1);
    expect(random.alpha).toBeGreaterThanOrEqual(0.7);
  });

  it("chooses the same parameters every time", () => {
    const noise = gaussian(3);
    const series = ramp(100, (t) => 20 + t + 4 * noise());
    expect(fitHolt(series)).toEqual(fitHolt(series));
  });

  it("covers about 95% of a noisy ramp's future values with its 95% interval over seeded trials", () => {
    const noise = gaussian(2024);
    let inside = 0;
    let total = 0;
    for (let trial = 0; trial < 200; trial += 1) {
      const truth = (t: number): number => 40 + 0.5 * t + 3 * noise();
      const fit = fitHolt(ramp(120, truth));
      for (const step of predict(fit, { count: 12, confidence: 0.95 })) {
        const actual = truth(119 + step.step);
        if (actual >= step.lower && actual <= step.upper) inside += 1;
        total += 1;
      }
    }
    expect(inside / total).toBeGreaterThanOrEqual(0.85);
    expect(inside / total).toBeLessThanOrEqual(0.995); // and not by being needlessly wide
  });

  it("uses the textbook Holt variance: σ²(1 + (h−1)α²(1 + hβ + h(2h−1)β²/6))", () => {
    const fit: SmoothingFit = { ...fitHolt([1, 2, 3], { alpha: 0.5, beta: 0.2 }), sigma: 2 };
    const h = 3;
    const expected =
      2 * Math.sqrt(1 + (h - 1) * 0.25 * (1 + h * 0.2 + (h * (2 * h - 1) * 0.04) / 6));
    expect(predictionSigma(fit, h)).toBeCloseTo(expected, 12);
  });

  it("refuses a series too short to have a trend", () => {
    expect(() => fitHolt([5])).toThrow(RangeError);
  });
});

describe("fitHoltWinters", () => {
  it("repeats a pure season exactly", () => {
    const pattern = [3, 9, 4, 1, 6, 2];
    const fit = fitHoltWinters(
      ramp(36, (t) => pattern[t % 6] as number),
      6,
    );
    expect(predict(fit, { count: 12, confidence: 0.8 }).map((s) => s.value)).toEqual(
      ramp(12, (t) => pattern[t % 6] as number).map((v) => expect.closeTo(v, 6)),
    );
  });

  it("forecasts the next period of a noisy sine better than Holt does", () => {
    const noise = gaussian(99);
    const series = ramp(7 * 24, (t) => sine(t) + noise());
    const history = series.slice(0, 6 * 24);
    const future = series.slice(6 * 24);
    const values = (fit: SmoothingFit): number[] =>
      predict(fit, { count: 24, confidence: 0.8 }).map((s) => s.value);
    const seasonalError = rmse(future, values(fitHoltWinters(history, 24)));
    const trendError = rmse(future, values(fitHolt(history)));
    expect(seasonalError).toBeLessThan(trendError / 3);
    expect(seasonalError).toBeLessThan(3);
  });

  it("gives a flat forecast with a zero-width interval for a constant", () => {
    const fit = fitHoltWinters(
      ramp(48, () => 12),
      24,
    );
    for (const step of predict(fit, { count: 30, confidence: 0.95 }))
      expect([step.value, step.lower, step.upper]).toEqual(
        [12, 12, 12].map((v) => expect.closeTo(v, 9)),
      );
  });

  it("refuses fewer than two seasons and a season shorter than 2", () => {
    expect(() =>
      fitHoltWinters(
        ramp(47, () => 1),
        24,
      ),
    ).toThrow(/two seasons/);
    expect(() =>
      fitHoltWinters(
        ramp(10, () => 1),
        1,
      ),
    ).toThrow(RangeError);
  });
});

describe("predictions (properties)", () => {
  const seriesArb = fc.array(fc.double({ min: 0, max: 1000, noNaN: true }), {
    minLength: 16,
    maxLength: 60,
  });

  it("widen with the horizon", () => {
    fc.assert(
      fc.property(seriesArb, (series) => {
        for (const fit of [fitHolt(series), fitHoltWinters(series, 8)]) {
          const sigmas = ramp(30, (h) => predictionSigma(fit, h + 1));
          sigmas
            .slice(1)
            .forEach((sigma, i) => expect(sigma).toBeGreaterThanOrEqual(sigmas[i] as number));
        }
      }),
      { seed: 42, numRuns: 100 },
    );
  });

  it("are never negative and keep the value inside its interval", () => {
    fc.assert(
      fc.property(seriesArb, fc.constantFrom(0.5, 0.8, 0.95), (series, confidence) => {
        for (const fit of [fitHolt(series), fitHoltWinters(series, 8)]) {
          for (const step of predict(fit, { count: 40, confidence })) {
            expect(step.lower).toBeGreaterThanOrEqual(0);
            expect(step.lower).toBeLessThanOrEqual(step.value);
            expect(step.value).toBeLessThanOrEqual(step.upper);
          }
        }
      }),
      { seed: 43, numRuns: 100 },
    );
  });
});
