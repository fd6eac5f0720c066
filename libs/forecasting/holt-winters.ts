// Additive exponential smoothing: Holt's linear trend, and Holt-Winters with
// one additive season, with smoothing parameters picked by a fixed grid
// search on one-step-ahead squared error (deterministic: the same series
// always gives the same fit), and normal prediction intervals from the
// one-step residuals. Equations as in Hyndman & Athanasopoulos, "Forecasting:
// Principles and Practice" (2nd ed.), §7.2-7.3.

export interface SmoothingParams {
  readonly alpha: number;
  /** Trend smoothing (Holt's β*, applied to the level change). */
  readonly beta: number;
  /** Season smoothing in the book's form, 0 ≤ γ ≤ 1 − α; 0 for Holt. */
  readonly gamma: number;
}

export interface SmoothingFit extends SmoothingParams {
  readonly kind: "holt" | "holt-winters";
  /** 0 for Holt. */
  readonly seasonLengthSteps: number;
  /** State after the last observation. */
  readonly level: number;
  readonly trend: number;
  /** seasonal[(h - 1) % m] is the season's offset h steps after the last observation (empty for Holt). */
  readonly seasonal: readonly number[];
  /** One-step-ahead fits and residuals (actual − fit) for series[firstFittedIndex ...]. */
  readonly firstFittedIndex: number;
  readonly fitted: readonly number[];
  readonly residuals: readonly number[];
  /** Root mean square of the residuals: the one-step σ the intervals grow from. */
  readonly sigma: number;
}

export interface PredictedStep {
  readonly step: number;
  readonly value: number;
  readonly lower: number;
  readonly upper: number;
  /** Standard deviation of the h-step error before z is applied. */
  readonly sigma: number;
}

const ALPHAS = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
const BETAS = [0.01, 0.05, 0.1, 0.2, 0.3];
const GAMMAS = [0.01, 0.05, 0.1, 0.2, 0.3];
/** Holt's initial trend is the mean slope over at most this many first steps: one step alone is mostly noise. */
const INITIAL_TREND_STEPS = 4;

interface Run {
  readonly level: number;
  readonly trend: number;
  readonly season: number[];
  readonly fitted: number[];
  readonly sse: number;
}

/** Holt's linear trend; needs at least 2 values. */
export function fitHolt(
  series: readonly number[],
  params?: Omit<SmoothingParams, "gamma">,
): SmoothingFit {
  if (series.length < 2)
    throw new RangeError(`Holt's method needs at least 2 values, got ${series.length}`);
  const grid =
    params === undefined
      ? ALPHAS.flatMap((alpha) => BETAS.map((beta) => ({ alpha, beta, gamma: 0 })))
      : [{ ...params, gamma: 0 }];
  const { params: best, run } = searchGrid(grid, (p, keep) => runHolt(series, p, keep));
  return toFit("holt", series, 1, 0, best, run);
}

/** Additive Holt-Winters with a season of `seasonLengthSteps`; needs at least two full seasons to start from. */
export function fitHoltWinters(
  series: readonly number[],
  seasonLengthSteps: number,
  params?: SmoothingParams,
): SmoothingFit {
  const m = seasonLengthSteps;
  if (!Number.isInteger(m) || m < 2)
    throw new RangeError(`seasonLengthSteps must be an integer ≥ 2, not ${m}`);
  if (series.length < 2 * m)
    throw new RangeError(`Holt-Winters needs two seasons (${2 * m} values), got ${series.length}`);
  // γ ≤ 1 − α keeps the model in the book's admissible region (§7.3).
  const grid =
    params !== undefined
      ? [params]
      : ALPHAS.flatMap((alpha) =>
          BETAS.flatMap((beta) =>
            GAMMAS.filter((gamma) => gamma <= 1 - alpha + 1e-9).map((gamma) => ({
              alpha,
              beta,
              gamma,
            })),
          ),
        );
  const { params: best, run } = searchGrid(grid, (p, keep) => runHoltWinters(series, m, p, keep));
  return toFit("holt-winters", series, 0, m, best, run);
}

/**
 * σ_h, the h-step forecast error's standard deviation, from Hyndman, Koehler,
 * Ord & Snyder, "Forecasting with Exponential Smoothing" (2008), Table 6.1,
 * class 1, also FPP 2nd ed. Table 7.8, ETS(A,A,A):
 *   σ_h² = σ²[1 + (h−1){α² + αβh + β²h(2h−1)/6} + γk{2α + γ + βm(k+1)}],
 *   k = ⌊(h−1)/m⌋,
 * where the book's β is α·β* (ours is β*). With γ = 0 it is the textbook
 * Holt form σ²(1 + (h−1)α²(1 + hβ* + h(2h−1)β*²/6)). Exact for the state
 * space model with normal errors; a fitted model's σ from its own residuals
 * makes it slightly optimistic.
 */
export function predictionSigma(fit: SmoothingFit, h: number): number {
  const { alpha, gamma, sigma } = fit;
  const beta = alpha * fit.beta;
  const m = fit.seasonLengthSteps;
  const trendPart =
    (h - 1) * (alpha * alpha + alpha * beta * h + (beta * beta * h * (2 * h - 1)) / 6);
  const k = m > 0 ? Math.floor((h - 1) / m) : 0;
  const seasonPart = gamma * k * (2 * alpha + gamma + beta * m * (k + 1));
  return sigma * Math.sqrt(1 + trendPart + seasonPart);
}

/** Forecasts for steps `fromStep ... fromStep + count − 1` after the last observation, clamped at 0 (load is never negative). */
export function predict(
  fit: SmoothingFit,
  options: { readonly fromStep?: number; readonly count: number; readonly confidence: number },
): PredictedStep[] {
  const z = zForConfidence(options.confidence);
  const fromStep = options.fromStep ?? 1;
  const steps: PredictedStep[] = [];
  for (let h = fromStep; h < fromStep + options.count; h += 1) {
    const season =
      fit.seasonal.length > 0 ? (fit.seasonal[(h - 1) % fit.seasonal.length] as number) : 0;
    const mean = fit.level + h * fit.trend + season;
    const sigma = predictionSigma(fit, h);
    steps.push({
      step: h,
      value: Math.max(0, mean),
      lower: Math.max(0, mean - z * sigma),
      upper: Math.max(0, mean + z * sigma),
      sigma,
    });
  }
  return steps;
}

/**
 * The two-sided normal quantile for a confidence (0.8 → 1.2816, 0.95 → 1.96),
 * by Acklam's rational approximation of the inverse normal CDF (relative
 * error below 1.2e-9).
 */
export function zForConfidence(confidence: number): number {
  if (!(confidence > 0 && confidence < 1))
    throw new RangeError(`confidence must be between 0 and 1, not ${confidence}`);
  return inverseNormal(0.5 + confidence / 2);
}

// Acklam's coefficients: central region a/b, tails c/d.
const A = [
  -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
  2.506628277459239,
] as const;
const B = [
  -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
] as const;
const C = [
  -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734,
  4.374664141464968, 2.938163982698783,
] as const;
const D = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416] as const;
const TAIL_P = 0.02425;

function inverseNormal(p: number): number {
  const tail = (q: number): number =>
    (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) /
    ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
  if (p < TAIL_P) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - TAIL_P) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q) /
    (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1)
  );
}

/** Runs every candidate without keeping fits, then reruns the best (the first of equals) keeping them. */
function searchGrid(
  grid: readonly SmoothingParams[],
  run: (params: SmoothingParams, keepFitted: boolean) => Run,
): { params: SmoothingParams; run: Run } {
  let best = grid[0] as SmoothingParams;
  let bestSse = Infinity;
  for (const params of grid) {
    const { sse } = run(params, false);
    if (sse < bestSse) {
      bestSse = sse;
      best = params;
    }
  }
  return { params: best, run: run(best, true) };
}

function runHolt(y: readonly number[], { alpha, beta }: SmoothingParams, keepFitted: boolean): Run {
  const k = Math.min(y.length - 1, INITIAL_TREND_STEPS);
  let level = y[0] as number;
  let trend = ((y[k] as number) - level) / k;
  const fitted: number[] = [];
  let sse = 0;
  for (let t = 1; t < y.length; t += 1) {
    const actual = y[t] as number;
    const fit = level + trend;
    sse += (actual - fit) ** 2;
    if (keepFitted) fitted.push(fit);
    const nextLevel = alpha * actual + (1 - alpha) * fit;
    trend = beta * (nextLevel - level) + (1 - beta) * trend;
    level = nextLevel;
  }
  return { level, trend, season: [], fitted, sse };
}

/**
 * Starts from the first two seasons (the book's classical heuristic): the
 * trend is the change of the season means, the season the detrended
 * deviations averaged over both, the level placed so the first fit sits on
 * that trend line. Residuals count from the first value.
 */
function runHoltWinters(
  y: readonly number[],
  m: number,
  { alpha, beta, gamma }: SmoothingParams,
  keepFitted: boolean,
): Run {
  const mean = (from: number): number => y.slice(from, from + m).reduce((sum, v) => sum + v, 0) / m;
  const means = [mean(0), mean(m)] as const;
  let trend = (means[1] - means[0]) / m;
  const season = Array.from({ length: m }, (_, i) => {
    const onLine = (j: 0 | 1): number => means[j] + trend * (i - (m - 1) / 2);
    return ((y[i] as number) - onLine(0) + (y[i + m] as number) - onLine(1)) / 2;
  });
  let level = means[0] - (trend * (m + 1)) / 2;
  const fitted: number[] = [];
  let sse = 0;
  for (let t = 0; t < y.length; t += 1) {
    const actual = y[t] as number;
    const slot = t % m;
    const offset = season[slot] as number;
    const fit = level + trend + offset;
    sse += (actual - fit) ** 2;
    if (keepFitted) fitted.push(fit);
    const nextLevel = alpha * (actual - offset) + (1 - alpha) * (level + trend);
    season[slot] = gamma * (actual - level - trend) + (1 - gamma) * offset;
    trend = beta * (nextLevel - level) + (1 - beta) * trend;
    level = nextLevel;
  }
  // Rotate so index 0 is the step after the last observation.
  const next = y.length % m;
  return { level, trend, season: [...season.slice(next), ...season.slice(0, next)], fitted, sse };
}

function toFit(
  kind: SmoothingFit["kind"],
  series: readonly number[],
  firstFittedIndex: number,
  m: number,
  params: SmoothingParams,
  run: Run,
): SmoothingFit {
  const residuals = run.fitted.map((fit, i) => (series[firstFittedIndex + i] as number) - fit);
  const sigma =
    residuals.length > 0
      ? Math.sqrt(residuals.reduce((sum, e) => sum + e * e, 0) / residuals.length)
      : 0;
  return {
    kind,
    ...params,
    seasonLengthSteps: m,
    level: run.level,
    trend: run.trend,
    seasonal: run.season,
    firstFittedIndex,
    fitted: run.fitted,
    residuals,
    sigma,
  };
}
