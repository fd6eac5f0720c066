// Burst detection on the arrival rate: a one-sided (upper) CUSUM against a
// baseline that adapts slowly, so a trend over hours moves the baseline while
// a rise over a minute or two accumulates into a burst. A pure state machine:
// the state is plain data the optimizer can persist, and one observation in
// gives the next state and, at most, one start or end event.
import type { BurstEvent } from "./forecast-types.js";

export interface BurstOptions {
  /**
   * k, the allowance in baseline sigmas: a rate within μ + kσ adds nothing.
   * Page (1954), "Continuous inspection schemes"; Montgomery, Introduction to
   * Statistical Quality Control, §9.1, sets k = δ/2 to detect a shift of δσ
   * and h = 4 or 5. The textbook k = 0.5 (δ = 1σ) with h = 5 has an
   * in-control run length of ~930 observations (Siegmund's approximation),
   * a false burst every ~4 h at the coordinator's 15 s cadence; each of
   * the seeded flat-noise tests saw some in 10,000 observations. A burst is a shift of 2σ
   * and more, so k = 1: ~110,000 observations between false alarms, and
   * still ~3 observations to detect a 3σ shift.
   */
  readonly allowanceSigmas?: number;
  /** h, the decision interval in baseline sigmas: a burst starts when the CUSUM passes hσ. */
  readonly decisionSigmas?: number;
  /**
   * Weight of each observation in the baseline's EWMA mean and variance.
   * 0.1 (a half-life of ~7 observations, ~100 s at a 15 s cadence) lets the
   * baseline keep up with a ramp of 10 → 40/s over an hour or more while the
   * same rise within one or two minutes is caught (within 5–10 minutes it
   * depends on the noise): the EWMA lags a ramp of slope s per observation by
   * s·(1 − w)/w, and the CUSUM grows only while that lag exceeds kσ. At 0.05 a
   * one-hour ramp can start a burst, at 0.03 a two-hour one; at 0.2 and above the noise in
   * the baseline starts to cause false bursts. The weight is per
   * observation, so a faster cadence makes the same ramp look slower.
   */
  readonly baselineWeight?: number;
  /** Observations that only teach the baseline before any burst can start. */
  readonly minSamples?: number;
  /** Consecutive observations below μ + kσ that end a burst. */
  readonly minQuietSamples?: number;
  /**
   * A burst longer than this is the new level, not a burst: it ends and the
   * baseline is learned again from scratch. Without it a lasting rise would
   * hold the detector in a burst for ever, since a burst does not teach the
   * baseline. 240 is an hour at a 15 s cadence.
   */
  readonly maxBurstSamples?: number;
  /** The smallest σ in rate units, so a baseline flat at 0 still has a scale to measure against. */
  readonly minSigma?: number;
}

export const DEFAULT_BURST_OPTIONS: Required<BurstOptions> = {
  allowanceSigmas: 1,
  decisionSigmas: 5,
  baselineWeight: 0.1,
  minSamples: 10,
  minQuietSamples: 3,
  maxBurstSamples: 240,
  minSigma: 1e-3,
};

/** σ is at least this fraction of the baseline: a perfectly flat baseline must not make every blip a burst. */
const MIN_SIGMA_OF_MEAN = 0.1;

/** Plain data: JSON round-trips it. */
export interface BurstState {
  /** Observations the baseline has learned from (counts up to and past minSamples). */
  readonly baselineSamples: number;
  /** EWMA of the rate, per second, and of its squared deviation. */
  readonly baselineRate: number;
  readonly baselineVariance: number;
  /** The CUSUM S, in rate units. */
  readonly cusum: number;
  readonly isBursting: boolean;
  /** During a burst: observations so far, consecutive quiet ones, when it started and its highest rate. */
  readonly burstSamples: number;
  readonly quietSamples: number;
  readonly burstStartedAtMs?: number;
  readonly peakRate?: number;
}

export interface RateObservation {
  readonly atMs: number;
  /** Arrivals per second. */
  readonly rate: number;
}

export interface BurstStep {
  readonly state: BurstState;
  readonly event?: BurstEvent;
}

export function initialBurstState(): BurstState {
  return {
    baselineSamples: 0,
    baselineRate: 0,
    baselineVariance: 0,
    cusum: 0,
    isBursting: false,
    burstSamples: 0,
    quietSamples: 0,
  };
}

export function observeRate(
  state: BurstState,
  observation: RateObservation,
  options: BurstOptions = {},
): BurstStep {
  const o = resolveOptions(options);
  const { rate } = observation;
  // A missing or corrupt reading says nothing about bursts.
  if (!Number.isFinite(rate) || rate < 0) return { state };
  if (state.isBursting) return observeInBurst(state, observation, o);
  if (state.baselineSamples < o.minSamples) return { state: learnBaseline(state, rate, o) };

  const sigma = sigmaOf(state, o);
  const cusum = Math.max(0, state.cusum + (rate - state.baselineRate - o.allowanceSigmas * sigma));
  if (cusum <= o.decisionSigmas * sigma)
    return { state: learnBaseline({ ...state, cusum }, rate, o) };

  // The baseline stays as it was before the burst, so the burst is measured against it and ends against it.
  const started: BurstState = {
    ...state,
    cusum,
    isBursting: true,
    burstSamples: 1,
    quietSamples: 0,
    burstStartedAtMs: observation.atMs,
    peakRate: rate,
  };
  const message =
    `arrival rate ${formatRate(rate)}/s is ${formatSigmas((rate - state.baselineRate) / sigma)}σ above the baseline ${formatRate(state.baselineRate)}/s ` +
    `(σ ${formatRate(sigma)}/s): burst started, CUSUM ${formatRate(cusum)} passed ${o.decisionSigmas}σ = ${formatRate(o.decisionSigmas * sigma)}`;
  return {
    state: started,
    event: { kind: "start", atMs: observation.atMs, rate, baseline: state.baselineRate, message },
  };
}

function observeInBurst(
  state: BurstState,
  observation: RateObservation,
  o: Required<BurstOptions>,
): BurstStep {
  const { rate, atMs } = observation;
  const sigma = sigmaOf(state, o);
  const quietBelow = state.baselineRate + o.allowanceSigmas * sigma;
  const quietSamples = rate < quietBelow ? state.quietSamples + 1 : 0;
  const burstSamples = state.burstSamples + 1;
  const peakRate = Math.max(state.peakRate ?? rate, rate);
  const startedAtMs = state.burstStartedAtMs ?? atMs;
  const lasted = `it lasted ${formatSeconds((atMs - startedAtMs) / 1000)} s over ${burstSamples} observations and peaked at ${formatRate(peakRate)}/s`;

  if (quietSamples >= o.minQuietSamples) {
    const message = `arrival rate ${formatRate(rate)}/s has been below ${formatRate(quietBelow)}/s (baseline ${formatRate(state.baselineRate)}/s + ${o.allowanceSigmas}σ) for ${quietSamples} observations: burst ended; ${lasted}`;
    const ended: BurstState = { ...withoutBurst(state), cusum: 0 };
    return {
      state: ended,
      event: { kind: "end", atMs, rate, baseline: state.baselineRate, message },
    };
  }
  if (burstSamples >= o.maxBurstSamples) {
    const message = `arrival rate ${formatRate(rate)}/s has not come back to the baseline ${formatRate(state.baselineRate)}/s within ${o.maxBurstSamples} observations: taken as the new level, burst ended and the baseline is learned again; ${lasted}`;
    return {
      state: learnBaseline(initialBurstState(), rate, o),
      event: { kind: "end", atMs, rate, baseline: state.baselineRate, message },
    };
  }
  return { state: { ...state, burstSamples, quietSamples, peakRate } };
}

/**
 * One EWMA step of the mean and variance (Finch 2009, "Incremental calculation
 * of weighted mean and variance", §9). The
 * weight is at least 1/n, so the first observations give their exact mean and
 * population variance rather than a baseline dragged towards the initial 0.
 */
function learnBaseline(state: BurstState, rate: number, o: Required<BurstOptions>): BurstState {
  const baselineSamples = state.baselineSamples + 1;
  const weight = Math.max(o.baselineWeight, 1 / baselineSamples);
  const deviation = rate - state.baselineRate;
  const step = weight * deviation;
  return {
    ...state,
    baselineSamples,
    baselineRate: state.baselineRate + step,
    baselineVariance: (1 - weight) * (state.baselineVariance + deviation * step),
  };
}

function sigmaOf(state: BurstState, o: Required<BurstOptions>): number {
  return Math.max(
    Math.sqrt(state.baselineVariance),
    MIN_SIGMA_OF_MEAN * state.baselineRate,
    o.minSigma,
  );
}

/** Drops the burst's fields rather than setting them undefined, so the state JSON round-trips to an equal object. */
function withoutBurst(state: BurstState): BurstState {
  const { baselineSamples, baselineRate, baselineVariance, cusum } = state;
  return {
    baselineSamples,
    baselineRate,
    baselineVariance,
    cusum,
    isBursting: false,
    burstSamples: 0,
    quietSamples: 0,
  };
}

function resolveOptions(options: BurstOptions): Required<BurstOptions> {
  const o = { ...DEFAULT_BURST_OPTIONS, ...stripUndefined(options) };
  if (!(o.allowanceSigmas >= 0))
    throw new RangeError(`allowanceSigmas must be 0 or more, not ${o.allowanceSigmas}`);
  if (!(o.decisionSigmas > 0))
    throw new RangeError(`decisionSigmas must be positive, not ${o.decisionSigmas}`);
  if (!(o.baselineWeight > 0 && o.baselineWeight <= 1))
    throw new RangeError(`baselineWeight must be in (0, 1], not ${o.baselineWeight}`);
  if (!(o.minSigma > 0)) throw new RangeError(`minSigma must be positive, not ${o.minSigma}`);
  for (const name of ["minSamples", "minQuietSamples", "maxBurstSamples"] as const) {
    if (!Number.isInteger(o[name]) || o[name] < 1)
      throw new RangeError(`${name} must be a positive integer, not ${o[name]}`);
  }
  return o;
}

function stripUndefined(options: BurstOptions): BurstOptions {
  return Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as BurstOptions;
}

function formatRate(value: number): string {
  return value.toFixed(value !== 0 && Math.abs(value) < 0.1 ? 3 : 1);
}

function formatSigmas(value: number): string {
  return value.toFixed(1);
}

function formatSeconds(seconds: number): string {
  return String(Number(seconds.toFixed(1)));
}
