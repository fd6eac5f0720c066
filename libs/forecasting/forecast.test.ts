import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createSeededRandom } from "../balancing/seeded-random.js";
import { forecastSignal, MAX_FIT_STEPS, type ForecastOptions } from "./forecast.js";
import type { Forecast, Point } from "./forecast-types.js";

const T0 = Date.UTC(2025, 0, 6);
const STEP_SEC = 60;
const STEP_MS = STEP_SEC * 1000;

/** One point per step from T0; `now` is the last point's time. */
function series(length: number, value: (t: number) => number): { points: Point[]; nowMs: number } {
  const points = Array.from({ length }, (_, t) => ({ atMs: T0 + t * STEP_MS, value: value(t) }));
  return { points, nowMs: T0 + (length - 1) * STEP_MS };
}

function gaussian(seed: number): () => number {
  const random = createSeededRandom(seed);
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

function run(
  points: readonly Point[],
  nowMs: number,
  options: Partial<ForecastOptions> = {},
): Forecast {
  return forecastSignal(points, { stepSec: STEP_SEC, horizonSteps: 10, nowMs, ...options });
}

const widths = (forecast: Forecast): number[] => forecast.points.map((p) => p.upper - p.lower);
const sine = (t: number): number => 50 + 20 * Math.sin((2 * Math.PI * t) / 24);

describe("forecastSignal model choice", () => {
  it.each([
    {
      name: "no history",
      length: 0,
      season: undefined,
      model: "naive",
      message: /naive: no history/,
    },
    {
      name: "two steps",
      length: 2,
      season: undefined,
      model: "naive",
      message: /fewer than 3 to fit a trend/,
    },
    {
      name: "three steps",
      length: 3,
      season: undefined,
      model: "holt",
      message: /holt: .*no season asked/,
    },
    {
      name: "no season asked",
      length: 200,
      season: undefined,
      model: "holt",
      message: /no season asked/,
    },
    {
      name: "less than two seasons",
      length: 47,
      season: 24,
      model: "holt",
      message: /less than two seasons of 24 steps/,
    },
    {
      name: "two full seasons",
      length: 48,
      season: 24,
      model: "holt-winters",
      message: /holt-winters: .*season of 24 steps/,
    },
    {
      name: "a season of one step",
      length: 48,
      season: 1,
      model: "holt",
      message: /a season of 1 steps is not usable/,
    },
  ])("uses $model with $name", ({ length, season, model, message }) => {
    const { points, nowMs } = series(length, (t) => 10 + (t % 5));
    const forecast = run(
      points,
      length === 0 ? T0 : nowMs,
      season === undefined ? {} : { seasonLengthSteps: season },
    );
    expect(forecast.model).toBe(model);
    expect(forecast.fittedOn).toBe(length);
    expect(forecast.message).toMatch(message);
    expect(forecast.message).toContain(`${length} points fitted`);
  });

  it("names a daily season and the days of history it was fitted on", () => {
    const points = Array.from({ length: 2 * 96 }, (_, t) => ({
      atMs: T0 + t * 900_000,
      value: 100 + 30 * Math.sin((2 * Math.PI * t) / 96),
    }));
    const forecast = forecastSignal(points, {
      stepSec: 900,
      horizonSteps: 4,
      seasonLengthSteps: 96,
      nowMs: points.at(-1)!.atMs,
    });
    expect(forecast.model).toBe("holt-winters");
    expect(forecast.message).toMatch(
      /^holt-winters: 2\.0 days of history \(192 steps of 900 s\), daily season of 96 steps; 192 points fitted, MAPE \d+\.\d% over 192 one-step fits$/,
    );
  });
});

describe("forecastSignal", () => {
  it("continues a linear ramp, starting at the step after now", () => {
    const { points, nowMs } = series(60, (t) => 5 + 2 * t);
    const forecast = run(points, nowMs + 20_000);
    expect(forecast.model).toBe("holt");
    expect(forecast.points.map((p) => p.atMs)).toEqual(
      Array.from({ length: 10 }, (_, k) => nowMs + (k + 1) * STEP_MS),
    );
    forecast.points.forEach((p, k) => expect(p.value).toBeCloseTo(5 + 2 * (60 + k), 6));
    expect(forecast.mape).toBeCloseTo(0, 9);
  });

  it("gives a flat forecast with a zero-width interval for a constant, carrying values over gaps", () => {
    const points = [0, 1, 5, 6, 12].map((step) => ({
      atMs: T0 + step * STEP_MS + 5_000,
      value: 8,
    }));
    const forecast = run(points, T0 + 12 * STEP_MS + 30_000);
    expect(forecast.fittedOn).toBe(13);
    expect(forecast.points.map(({ value, lower, upper }) => [value, lower, upper])).toEqual(
      Array(10).fill([8, 8, 8]),
    );
    expect(forecast.mape).toBe(0);
  });

  it("averages the points falling in one step", () => {
    const points = [4, 6, 8].map((value, i) => ({ atMs: T0 + i * 10_000, value }));
    const forecast = run(points, T0 + 50_000);
    expect(forecast.model).toBe("naive");
    expect(forecast.points[0]).toMatchObject({ value: 6, lower: 6, upper: 6 });
  });

  it("widens a naive interval from the step-to-step spread", () => {
    const forecast = run(
      [
        { atMs: T0, value: 10 },
        { atMs: T0 + STEP_MS, value: 14 },
      ],
      T0 + STEP_MS,
      { confidence: 0.95 },
    );
    expect(forecast.points[0]).toMatchObject({ value: 14 });
    expect(forecast.points[0]!.upper - 14).toBeCloseTo(1.96 * 4, 3);
    expect(forecast.mape).toBeCloseTo(4 / 14, 9);
  });

  it("leaves MAPE undefined when every actual is zero, and says so", () => {
    const { points, nowMs } = series(30, () => 0);
    const forecast = run(points, nowMs);
    expect(forecast.mape).toBeUndefined();
    expect(forecast.message).toContain("MAPE not measurable");
    expect(forecast.points.every((p) => p.value === 0 && p.upper === 0)).toBe(true);
  });

  it("forecasts the next period of a sine better with holt-winters than with holt", () => {
    const noise = gaussian(5);
    const { points } = series(7 * 24, (t) => sine(t) + noise());
    const history = points.slice(0, 6 * 24);
    const future = points.slice(6 * 24);
    const nowMs = history.at(-1)!.atMs;
    const error = (forecast: Forecast): number =>
      Math.sqrt(
        forecast.points.reduce((sum, p, i) => sum + (p.value - future[i]!.value) ** 2, 0) /
          future.length,
      );
    const seasonal = run(history, nowMs, { horizonSteps: 24, seasonLengthSteps: 24 });
    const trend = run(history, nowMs, { horizonSteps: 24 });
    expect([seasonal.model, trend.model]).toEqual(["holt-winters", "holt"]);
    expect(error(seasonal)).toBeLessThan(error(trend) / 3);
    expect(seasonal.mape!).toBeLessThan(trend.mape!);
  });

  it("covers at least 85% of a noisy ramp's future values with its 95% interval over seeded trials", () => {
    const noise = gaussian(77);
    let inside = 0;
    let total = 0;
    for (let trial = 0; trial < 100; trial += 1) {
      const truth = (t: number): number => 30 + 0.4 * t + 2 * noise();
      const { points, nowMs } = series(100, truth);
      run(points, nowMs, { confidence: 0.95, horizonSteps: 15 }).points.forEach((p, k) => {
        const actual = truth(100 + k);
        if (actual >= p.lower && actual <= p.upper) inside += 1;
        total += 1;
      });
    }
    expect(inside / total).toBeGreaterThanOrEqual(0.85);
  });

  it("widens the interval with the horizon, and more when the history has gone quiet", () => {
    const noise = gaussian(8);
    const { points, nowMs } = series(100, (t) => 200 + t + 3 * noise());
    const fresh = run(points, nowMs, { horizonSteps: 30 });
    widths(fresh)
      .slice(1)
      .forEach((width, k) => expect(width).toBeGreaterThanOrEqual(widths(fresh)[k]!));
    const quiet = run(points, nowMs + 10 * STEP_MS, { horizonSteps: 30 });
    expect(quiet.message).toContain("last value 10 steps before now");
    expect(widths(quiet)[0]).toBeCloseTo(widths(fresh)[10]!, 9);
  });

  it("ignores points after now", () => {
    const { points, nowMs } = series(20, () => 3);
    const forecast = run([...points, { atMs: nowMs + 5 * STEP_MS, value: 1000 }], nowMs);
    expect(forecast.fittedOn).toBe(20);
    expect(forecast.points[0]?.value).toBeCloseTo(3, 9);
  });

  it("fits only the latest MAX_FIT_STEPS steps of a long history", () => {
    const { points, nowMs } = series(MAX_FIT_STEPS + 500, (t) => 1 + (t % 3));
    const forecast = run(points, nowMs);
    expect(forecast.fittedOn).toBe(MAX_FIT_STEPS);
    expect(forecast.message).toContain(`the latest ${MAX_FIT_STEPS} kept`);
  });

  it.each([
    { name: "a zero step", options: { stepSec: 0 } },
    { name: "a negative horizon", options: { horizonSteps: -1 } },
    { name: "a fractional horizon", options: { horizonSteps: 1.5 } },
    { name: "a confidence of 1", options: { confidence: 1 } },
  ])("refuses $name", ({ options }) => {
    expect(() => run([], T0, options)).toThrow(RangeError);
  });

  it("never forecasts negative load, keeps each value inside its interval and steps from now (property)", () => {
    const pointArb = fc.record({
      offsetSec: fc.integer({ min: 0, max: 7200 }),
      value: fc.double({ min: 0, max: 500, noNaN: true }),
    });
    fc.assert(
      fc.property(
        fc.array(pointArb, { maxLength: 150 }),
        fc.constantFrom(10, 60, 300),
        fc.integer({ min: 1, max: 40 }),
        fc.option(fc.integer({ min: 2, max: 30 }), { nil: undefined }),
        (raw, stepSec, horizonSteps, seasonLengthSteps) => {
          const nowMs = T0 + 7200_000;
          const points = raw.map(({ offsetSec, value }) => ({
            atMs: T0 + offsetSec * 1000,
            value,
          }));
          const forecast = forecastSignal(points, {
            stepSec,
            horizonSteps,
            nowMs,
            ...(seasonLengthSteps === undefined ? {} : { seasonLengthSteps }),
          });
          expect(forecast.points.map((p) => p.atMs)).toEqual(
            Array.from(
              { length: horizonSteps },
              (_, k) =>
                Math.floor(nowMs / (stepSec * 1000)) * stepSec * 1000 + (k + 1) * stepSec * 1000,
            ),
          );
          for (const p of forecast.points) {
            expect(p.lower).toBeGreaterThanOrEqual(0);
            expect(p.lower).toBeLessThanOrEqual(p.value);
            expect(p.value).toBeLessThanOrEqual(p.upper);
          }
          if (forecast.mape !== undefined) expect(forecast.mape).toBeGreaterThanOrEqual(0);
        },
      ),
      { seed: 17, numRuns: 150 },
    );
  });
});
