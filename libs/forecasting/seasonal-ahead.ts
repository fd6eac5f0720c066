// A forecast one worker start ahead on a load with a season (a day, a week):
// the season's shape comes from a Holt-Winters fit over coarse steps, the
// level from what is measured now. demand(now + lead) = measured(now) ×
// shape(now + lead) / shape(now): the fit's own level error cancels in the
// ratio, so a fit refitted only now and then still answers for the next
// minute, and a day busier than the fitted ones scales with it.
import type { ForecastModel, ForecastPoint, Point } from "./forecast-types.js";
import { forecastSignal } from "./forecast.js";

export interface SeasonalShape {
  readonly stepSec: number;
  readonly seasonSec: number;
  readonly model: ForecastModel;
  /** The fitted forecast, one point per step from the step after the fit. */
  readonly points: readonly ForecastPoint[];
  readonly fittedAtMs: number;
}

/** Fits the shape over `points`; undefined until two whole seasons are held (Holt-Winters needs them). */
export function fitSeasonalShape(
  points: readonly Point[],
  options: {
    readonly stepSec: number;
    readonly seasonSec: number;
    readonly horizonSec: number;
    readonly nowMs: number;
  },
): SeasonalShape | undefined {
  const { stepSec, seasonSec, nowMs } = options;
  const seasonLengthSteps = Math.round(seasonSec / stepSec);
  const forecast = forecastSignal(points, {
    stepSec,
    horizonSteps: Math.max(1, Math.ceil(options.horizonSec / stepSec) + 1),
    seasonLengthSteps,
    nowMs,
  });
  if (forecast.model !== "holt-winters") return undefined;
  return { stepSec, seasonSec, model: forecast.model, points: forecast.points, fittedAtMs: nowMs };
}

/** The shape at a time: linear between step midpoints, flat beyond the first and last. */
export function shapeAt(shape: SeasonalShape, atMs: number): number | undefined {
  const { points } = shape;
  const half = (shape.stepSec * 1000) / 2;
  const first = points[0];
  const last = points.at(-1);
  if (first === undefined || last === undefined) return undefined;
  if (atMs <= first.atMs + half) return first.value;
  if (atMs >= last.atMs + half) return last.value;
  const index = Math.floor((atMs - first.atMs - half) / (shape.stepSec * 1000));
  const a = points[index] as ForecastPoint;
  const b = points[index + 1] ?? a;
  const fraction = (atMs - (a.atMs + half)) / (shape.stepSec * 1000);
  return a.value + (b.value - a.value) * fraction;
}

/** The measured level carried along the season's shape to one lead time ahead; undefined where the shape is near zero. */
export function forecastAlongSeason(
  shape: SeasonalShape,
  options: { readonly nowMs: number; readonly leadTimeSec: number; readonly measuredNow: number },
): number | undefined {
  const now = shapeAt(shape, options.nowMs);
  const ahead = shapeAt(shape, options.nowMs + options.leadTimeSec * 1000);
  if (now === undefined || ahead === undefined || now <= 1e-9) return undefined;
  return Math.max(0, options.measuredNow * (ahead / now));
}
