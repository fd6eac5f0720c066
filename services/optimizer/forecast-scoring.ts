// How wrong the demand forecasts were, measured when the time they were
// made for comes: each recommendation's predicted demand at its lead time
// is kept until a sample at or after that time arrives, and its error is
// |actual - predicted| / max(actual, 1) (a relative error that an idle
// mesh, with an actual of 0, cannot blow up).
export interface ForecastScoring {
  /** A forecast of `demand` for `atMs`. */
  expect(atMs: number, demand: number): void;
  /** The errors of the forecasts due by a sample taken at `observedAtMs` with this demand. */
  settle(observedAtMs: number, actualDemand: number): number[];
  readonly pending: number;
}

/** Keeps at most `maxPending` forecasts waiting (the oldest go first). */
export function createForecastScoring(maxPending = 256): ForecastScoring {
  let waiting: { atMs: number; demand: number }[] = [];
  return {
    expect(atMs, demand) {
      waiting.push({ atMs, demand });
      if (waiting.length > maxPending) waiting.shift();
    },
    settle(observedAtMs, actualDemand) {
      const errors: number[] = [];
      const keep: typeof waiting = [];
      for (const forecast of waiting) {
        if (forecast.atMs > observedAtMs) keep.push(forecast);
        else errors.push(Math.abs(actualDemand - forecast.demand) / Math.max(actualDemand, 1));
      }
      waiting = keep;
      return errors;
    },
    get pending() {
      return waiting.length;
    },
  };
}
