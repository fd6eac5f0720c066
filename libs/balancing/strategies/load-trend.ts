// A worker's own short-term load trend: in-flight samples over a sliding
// window, a least-squares slope, projected ahead. Pure functions over plain
// data; the predictive strategy keeps one LoadTrend per worker.

export interface LoadSample {
  readonly atMs: number;
  readonly inFlight: number;
}

export interface LoadTrend {
  readonly samples: readonly LoadSample[];
}

export interface LoadTrendOptions {
  readonly windowMs: number;
  readonly maxSamples: number;
}

/** Adds a sample unless the last is closer than windowMs / maxSamples (samples stay spread over the window); drops old ones. */
export function addLoadSample(
  trend: LoadTrend,
  sample: LoadSample,
  options: LoadTrendOptions,
): LoadTrend {
  const minGapMs = options.windowMs / Math.max(1, options.maxSamples);
  const last = trend.samples.at(-1);
  const kept = trend.samples.filter((s) => sample.atMs - s.atMs <= options.windowMs);
  const samples =
    last !== undefined && sample.atMs - last.atMs < minGapMs ? kept : [...kept, sample];
  return { samples: samples.slice(-Math.max(1, options.maxSamples)) };
}

/** Least-squares slope of in-flight over time, in tasks per ms (0 with fewer than two distinct times). */
export function loadSlopePerMs(trend: LoadTrend): number {
  const n = trend.samples.length;
  if (n < 2) return 0;
  const meanT = trend.samples.reduce((sum, s) => sum + s.atMs, 0) / n;
  const meanY = trend.samples.reduce((sum, s) => sum + s.inFlight, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const s of trend.samples) {
    covariance += (s.atMs - meanT) * (s.inFlight - meanY);
    variance += (s.atMs - meanT) ** 2;
  }
  return variance === 0 ? 0 : covariance / variance;
}

/** In flight horizonMs from now if the trend holds, never below zero. */
export function projectInFlight(
  currentInFlight: number,
  trend: LoadTrend,
  horizonMs: number,
): number {
  return Math.max(0, currentInFlight + loadSlopePerMs(trend) * horizonMs);
}
