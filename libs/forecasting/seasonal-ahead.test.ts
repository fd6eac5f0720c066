import { describe, expect, it } from "vitest";
import { fitSeasonalShape, forecastAlongSeason, shapeAt } from "./seasonal-ahead.js";

const DAY_MS = 86_400_000;
const STEP_SEC = 300;
/** A daily sine from 10 to 30, sampled every 5 minutes. */
const daily = (atMs: number): number => 20 + 10 * Math.sin((2 * Math.PI * atMs) / DAY_MS);
const history = (days: number, scale = 1) =>
  Array.from({ length: (days * 86_400) / STEP_SEC }, (_, i) => ({
    atMs: i * STEP_SEC * 1000,
    value: scale * daily(i * STEP_SEC * 1000),
  }));

describe("seasonal forecast one lead time ahead", () => {
  it("needs two whole seasons", () => {
    const nowMs = 1.5 * DAY_MS;
    const fit = fitSeasonalShape(history(1.5), {
      stepSec: STEP_SEC,
      seasonSec: 86_400,
      horizonSec: 3600,
      nowMs,
    });
    expect(fit).toBeUndefined();
  });

  it("follows the season's shape from the measured level", () => {
    const nowMs = 2 * DAY_MS; // 00:00, the sine rising fastest
    const fit = fitSeasonalShape(history(2), {
      stepSec: STEP_SEC,
      seasonSec: 86_400,
      horizonSec: 3600,
      nowMs,
    });
    expect(fit?.model).toBe("holt-winters");
    if (!fit) return;
    // An hour ahead the sine is at 20 + 10 sin(π/12) ≈ 22.6: the shape says so within a few percent.
    const ahead = forecastAlongSeason(fit, { nowMs, leadTimeSec: 3600, measuredNow: daily(nowMs) });
    expect(ahead).toBeGreaterThan(daily(nowMs + 3_600_000) * 0.95);
    expect(ahead).toBeLessThan(daily(nowMs + 3_600_000) * 1.05);
    // A day twice as busy as the fitted ones: the measured level carries the shape, so the forecast doubles too.
    const doubled = forecastAlongSeason(fit, {
      nowMs,
      leadTimeSec: 3600,
      measuredNow: 2 * daily(nowMs),
    });
    expect(doubled).toBeCloseTo(2 * (ahead ?? 0), 9);
  });

  it("interpolates between step midpoints and holds flat beyond the ends", () => {
    const shape = {
      stepSec: 60,
      seasonSec: 600,
      model: "holt-winters" as const,
      fittedAtMs: 0,
      points: [
        { atMs: 0, value: 10, lower: 10, upper: 10 },
        { atMs: 60_000, value: 20, lower: 20, upper: 20 },
      ],
    };
    expect(shapeAt(shape, 0)).toBe(10);
    expect(shapeAt(shape, 60_000)).toBeCloseTo(15, 12);
    expect(shapeAt(shape, 200_000)).toBe(20);
  });
});
