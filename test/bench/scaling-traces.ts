// The arrival-rate traces the scaling benches replay (seeded; each trace
// draws from its own stream of the seed, so adding one changes no other).
import { createSeededRandom, type RandomSource } from "../../libs/balancing/index.js";

export const TRACE_NAMES = ["diurnal", "step", "spike", "noisy", "ramp", "weekly"] as const;
export type TraceName = (typeof TRACE_NAMES)[number] | "constant";

export interface Trace {
  readonly name: TraceName;
  readonly tickSec: number;
  /** Arrivals per second, one per tick. */
  readonly ratesPerSec: readonly number[];
  /** Figures count from here on (the seasonal traces' first seasons teach the season). */
  readonly measureFromSec: number;
  /** A sudden rise, for "time to enough workers": when it starts and the rate it rises to. */
  readonly rise?: { readonly atSec: number; readonly ratePerSec: number };
  readonly description: string;
}

export const DAY_SEC = 86_400;
const HOUR_SEC = 3600;
/**
 * The 1 s traces run this long before their figures count: a running
 * optimizer has history, and Holt fitted on a few noisy samples extrapolates
 * wildly (the first minutes of a fresh optimizer are a finding of their own,
 * not what the comparison is about).
 */
const WARM_UP_SEC = 1800;

export function constantTrace(ratePerSec: number, durationSec: number): Trace {
  return {
    name: "constant",
    tickSec: 1,
    ratesPerSec: new Array<number>(durationSec).fill(ratePerSec),
    measureFromSec: 0,
    description: `constant ${ratePerSec}/s`,
  };
}

export function buildTrace(name: (typeof TRACE_NAMES)[number], seed: number): Trace {
  const random = createSeededRandom(seed * 7919 + TRACE_NAMES.indexOf(name) + 1);
  const hour = HOUR_SEC;
  switch (name) {
    case "diurnal":
      // A sine-like day from 2/s at 04:00 to 24/s at 16:00; three days at 5 s ticks, the third measured.
      return seasonalTrace(name, random, {
        days: 3,
        shape: (t) => 2 + (22 * (1 - Math.cos((2 * Math.PI * (t - 4 * hour)) / DAY_SEC))) / 2,
        description:
          "2 → 24/s over a day (trough 04:00, peak 16:00), 10% noise; 3 days at 5 s ticks, day 3 measured",
      });
    case "weekly":
      // Office hours on weekdays, a quiet weekend; three weeks, the third measured (two weeks teach the weekly season).
      return seasonalTrace(name, random, {
        days: 21,
        shape: weeklyRate,
        description:
          "weekdays 2/s at night, rising to 24/s 07:30–09:00, 16/s over lunch (12:00–13:30), back to 2/s 17:00–20:00; weekends 2 → 8/s (peak 14:00); 10% noise; 3 weeks at 5 s ticks from a Monday, week 3 measured",
      });
    case "step":
      return steadyTrace(name, random, {
        sigma: 0.05,
        tauSec: 10,
        shape: (t) => (t < hour ? 10 : 50),
        rise: { atSec: hour, ratePerSec: 50 },
        description:
          "10/s, ×5 to 50/s at 60 min; 5% noise; 2.5 h at 1 s ticks, the last 2 h measured",
      });
    case "spike":
      return steadyTrace(name, random, {
        sigma: 0.05,
        tauSec: 10,
        shape: (t) => (t >= hour && t < hour + 600 ? 50 : 10),
        rise: { atSec: hour, ratePerSec: 50 },
        description:
          "10/s with a 10-minute ×5 spike at 60 min; 5% noise; 2.5 h at 1 s ticks, the last 2 h measured",
      });
    case "noisy":
      return steadyTrace(name, random, {
        sigma: 0.5,
        tauSec: 30,
        shape: () => 10,
        description:
          "10/s with 50% log-normal noise correlated over ~30 s; 2.5 h at 1 s ticks, the last 2 h measured",
      });
    case "ramp":
      // The case forecasts exist for: a steady climb a worker's start time cannot keep up with reactively.
      return steadyTrace(name, random, {
        sigma: 0.05,
        tauSec: 10,
        shape: (t) => (t < hour ? 10 : t < hour + 300 ? 10 + (50 * (t - hour)) / 300 : 60),
        rise: { atSec: hour, ratePerSec: 60 },
        description:
          "10/s, climbing steadily to 60/s over 5 min from 60 min; 5% noise; 2.5 h at 1 s ticks, the last 2 h measured",
      });
    default: {
      const unknown: never = name;
      throw new RangeError(`unknown trace ${String(unknown)}`);
    }
  }
}

/** The weekly trace's rate at tSec from Monday 00:00: office hours Monday to Friday, a gentle weekend day. */
export function weeklyRate(tSec: number): number {
  const day = Math.floor(tSec / DAY_SEC) % 7;
  const hourOfDay = (tSec % DAY_SEC) / HOUR_SEC;
  if (day >= 5) return 2 + (6 * (1 - Math.cos((2 * Math.PI * (hourOfDay - 2)) / 24))) / 2;
  // A half-cosine from `from` to `to` between hours a and b.
  const ease = (a: number, b: number, from: number, to: number): number =>
    from + (to - from) * (1 - Math.cos((Math.PI * (hourOfDay - a)) / (b - a))) * 0.5;
  if (hourOfDay < 7.5) return 2;
  if (hourOfDay < 9) return ease(7.5, 9, 2, 24);
  if (hourOfDay < 12) return 24;
  if (hourOfDay < 12.5) return ease(12, 12.5, 24, 16);
  if (hourOfDay < 13) return 16;
  if (hourOfDay < 13.5) return ease(13, 13.5, 16, 24);
  if (hourOfDay < 17) return 24;
  if (hourOfDay < 20) return ease(17, 20, 24, 2);
  return 2;
}

function seasonalTrace(
  name: TraceName,
  random: RandomSource,
  o: { days: number; shape: (tSec: number) => number; description: string },
): Trace {
  const tickSec = 5;
  const noise = arNoise(random, {
    count: (o.days * DAY_SEC) / tickSec,
    tickSec,
    sigma: 0.1,
    tauSec: 60,
  });
  return {
    name,
    tickSec,
    ratesPerSec: noise.map((n, i) => o.shape(i * tickSec) * n),
    measureFromSec: (o.days - (o.days >= 7 ? 7 : 1)) * DAY_SEC,
    description: o.description,
  };
}

function steadyTrace(
  name: TraceName,
  random: RandomSource,
  o: {
    sigma: number;
    tauSec: number;
    shape: (tSec: number) => number;
    rise?: Trace["rise"];
    description: string;
  },
): Trace {
  const durationSec = 2.5 * 3600;
  const noise = arNoise(random, {
    count: durationSec,
    tickSec: 1,
    sigma: o.sigma,
    tauSec: o.tauSec,
  });
  return {
    name,
    tickSec: 1,
    ratesPerSec: noise.map((n, t) => o.shape(t) * n),
    measureFromSec: WARM_UP_SEC,
    ...(o.rise ? { rise: o.rise } : {}),
    description: o.description,
  };
}

/** Multiplicative noise with mean 1: exp of an AR(1) process with stationary σ and correlation time τ, less σ²/2. */
function arNoise(
  random: RandomSource,
  o: { count: number; tickSec: number; sigma: number; tauSec: number },
): number[] {
  const rho = Math.exp(-o.tickSec / o.tauSec);
  let x = o.sigma * gaussian(random);
  return Array.from({ length: o.count }, () => {
    x = rho * x + Math.sqrt(1 - rho * rho) * o.sigma * gaussian(random);
    return Math.exp(x - (o.sigma * o.sigma) / 2);
  });
}

/** Box-Muller, one draw of two uniforms. */
function gaussian(random: RandomSource): number {
  const u = Math.max(random(), Number.MIN_VALUE);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}
