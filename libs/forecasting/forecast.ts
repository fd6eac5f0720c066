// Forecasts one load signal: resample its history to a fixed step, choose
// the model the history can support (naive, Holt, Holt-Winters with a
// season), and report the forecast with its interval, its one-step error
// (MAPE) and a sentence saying which model and why.
import type { Forecast, ForecastModel, ForecastPoint, Point } from "./forecast-types.js";
import {
  fitHolt,
  fitHoltWinters,
  predict,
  zForConfidence,
  type SmoothingFit,
} from "./holt-winters.js";

export interface ForecastOptions {
  readonly stepSec: number;
  readonly horizonSteps: number;
  /** Fraction covered by the interval (default 0.8). */
  readonly confidence?: number;
  /** The season in steps (86400 / stepSec for a daily one); Holt-Winters is used once two full seasons are held. */
  readonly seasonLengthSteps?: number;
  readonly nowMs: number;
}

export const DEFAULT_CONFIDENCE = 0.8;
/** Holt needs a level and a trend to start from, and one step left to fit them on. */
export const MIN_STEPS_FOR_TREND = 3;
/** The most recent steps fitted at most (14 days of 1-minute steps): bounds the grid search's cost. */
export const MAX_FIT_STEPS = 20_160;
/** Actuals closer to zero than this are left out of MAPE: a percentage of nothing means nothing. */
const MAPE_ZERO = 1e-9;

/**
 * Forecasts `horizonSteps` steps of `stepSec` starting at the step after
 * `nowMs`. `mape` is a fraction (0.05 = 5%) over the one-step-ahead fits,
 * undefined when no actual is away from zero.
 */
export function forecastSignal(points: readonly Point[], options: ForecastOptions): Forecast {
  const { stepSec, horizonSteps, nowMs } = options;
  if (!(stepSec > 0) || !Number.isFinite(stepSec))
    throw new RangeError(`stepSec must be positive, not ${stepSec}`);
  if (!Number.isInteger(horizonSteps) || horizonSteps < 0)
    throw new RangeError(`horizonSteps must be a non-negative integer, not ${horizonSteps}`);
  const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
  const z = zForConfidence(confidence);
  const stepMs = stepSec * 1000;
  const series = resample(points, stepMs, nowMs);
  const nowStepMs = Math.floor(nowMs / stepMs) * stepMs;
  // Steps from the last observed one to the first forecast one: more than 1 when the history has gone quiet.
  const firstStep =
    series.values.length > 0 ? Math.round((nowStepMs - series.lastStepMs) / stepMs) + 1 : 1;
  const atMs = (k: number): number => nowStepMs + (k + 1) * stepMs;
  const held = `${series.values.length} steps of ${stepSec} s${series.isTrimmed ? ` (the latest ${MAX_FIT_STEPS} kept)` : ""}`;
  const stale = firstStep > 1 ? `; last value ${firstStep - 1} steps before now` : "";
  const base = { stepSec, confidence, fittedOn: series.values.length };

  if (series.values.length < MIN_STEPS_FOR_TREND) {
    const naive = naiveForecast(series.values, { firstStep, horizonSteps, z });
    const why =
      series.values.length === 0
        ? "no history, forecasting 0"
        : `${held}, fewer than ${MIN_STEPS_FOR_TREND} to fit a trend`;
    return withMape(
      {
        ...base,
        model: "naive",
        points: naive.steps.map((step, k) => ({ atMs: atMs(k), ...step })),
      },
      `naive: ${why}${stale}`,
      naive.fits,
      series.values,
      1,
    );
  }

  const asked = options.seasonLengthSteps;
  const season = asked !== undefined && Number.isInteger(asked) && asked >= 2 ? asked : undefined;
  const seasonal = season !== undefined && series.values.length >= 2 * season ? season : undefined;
  const fit: SmoothingFit =
    seasonal !== undefined ? fitHoltWinters(series.values, seasonal) : fitHolt(series.values);
  const model: ForecastModel = fit.kind;
  const seasonWhy =
    seasonal !== undefined
      ? describeSeason(seasonal, stepSec)
      : asked === undefined
        ? "no season asked"
        : season === undefined
          ? `a season of ${asked} steps is not usable`
          : `less than two seasons of ${season} steps`;
  const why = `${describeDuration(series.values.length * stepSec)} of history (${held}), ${seasonWhy}`;
  const steps = predict(fit, { fromStep: firstStep, count: horizonSteps, confidence });
  const forecastPoints: ForecastPoint[] = steps.map((step, k) => ({
    atMs: atMs(k),
    value: step.value,
    lower: step.lower,
    upper: step.upper,
  }));
  return withMape(
    { ...base, model, points: forecastPoints },
    `${model}: ${why}${stale}`,
    fit.fitted,
    series.values,
    fit.firstFittedIndex,
  );
}

interface Resampled {
  readonly values: number[];
  readonly lastStepMs: number;
  readonly isTrimmed: boolean;
}

/** Mean per step from the first point's step to the last's (at most MAX_FIT_STEPS); an empty step carries the previous value. */
function resample(points: readonly Point[], stepMs: number, nowMs: number): Resampled {
  const usable = points
    .filter((p) => Number.isFinite(p.atMs) && Number.isFinite(p.value) && p.atMs <= nowMs)
    .sort((a, b) => a.atMs - b.atMs);
  const first = usable[0];
  const last = usable[usable.length - 1];
  if (first === undefined || last === undefined)
    return { values: [], lastStepMs: 0, isTrimmed: false };
  const lastStepMs = Math.floor(last.atMs / stepMs) * stepMs;
  const firstStepMs = Math.max(
    Math.floor(first.atMs / stepMs) * stepMs,
    lastStepMs - (MAX_FIT_STEPS - 1) * stepMs,
  );
  const firstIndex = Math.round(firstStepMs / stepMs);
  const length = Math.round(lastStepMs / stepMs) - firstIndex + 1;
  const sums = new Array<number>(length).fill(0);
  const counts = new Array<number>(length).fill(0);
  let carried = first.value;
  for (const point of usable) {
    const index = Math.floor(point.atMs / stepMs) - firstIndex;
    if (index < 0)
      carried = point.value; // before a trimmed window: only seeds the carry
    else {
      sums[index] = (sums[index] as number) + point.value;
      counts[index] = (counts[index] as number) + 1;
    }
  }
  const values = sums.map((sum, i) => {
    const count = counts[i] as number;
    if (count > 0) carried = sum / count;
    return carried;
  });
  return { values, lastStepMs, isTrimmed: firstStepMs > Math.floor(first.atMs / stepMs) * stepMs };
}

/**
 * The last value, with the random walk's interval σ√h (FPP 2nd ed. Table
 * 3.2), σ from the step-to-step changes seen (0 with one value).
 */
function naiveForecast(
  values: readonly number[],
  options: { firstStep: number; horizonSteps: number; z: number },
): { steps: Omit<ForecastPoint, "atMs">[]; fits: number[] } {
  const last = values[values.length - 1] ?? 0;
  const fits = values.slice(0, -1);
  const changes = fits.map((fit, i) => (values[i + 1] as number) - fit);
  const sigma =
    changes.length > 0 ? Math.sqrt(changes.reduce((sum, e) => sum + e * e, 0) / changes.length) : 0;
  const steps = Array.from({ length: options.horizonSteps }, (_, k) => {
    const halfWidth = options.z * sigma * Math.sqrt(options.firstStep + k);
    return {
      value: Math.max(0, last),
      lower: Math.max(0, last - halfWidth),
      upper: Math.max(0, last + halfWidth),
    };
  });
  return { steps, fits };
}

/** Adds the one-step MAPE of `fits` (for values[firstIndex ...]) and the message saying it. */
function withMape(
  forecast: Omit<Forecast, "message" | "mape">,
  why: string,
  fits: readonly number[],
  values: readonly number[],
  firstIndex: number,
): Forecast {
  let total = 0;
  let counted = 0;
  fits.forEach((fit, i) => {
    const actual = values[firstIndex + i] as number;
    if (Math.abs(actual) < MAPE_ZERO) return;
    total += Math.abs((actual - fit) / actual);
    counted += 1;
  });
  const mape = counted > 0 ? total / counted : undefined;
  const error =
    mape === undefined
      ? "MAPE not measurable (no non-zero actual fitted)"
      : `MAPE ${(mape * 100).toFixed(1)}% over ${counted} one-step fits`;
  const message = `${why}; ${forecast.fittedOn} points fitted, ${error}`;
  return mape === undefined ? { ...forecast, message } : { ...forecast, mape, message };
}

function describeSeason(seasonSteps: number, stepSec: number): string {
  return seasonSteps * stepSec === 86_400
    ? `daily season of ${seasonSteps} steps`
    : `season of ${seasonSteps} steps (${describeDuration(seasonSteps * stepSec)})`;
}

function describeDuration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(0)} min`;
  if (seconds < 2 * 86_400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} days`;
}
