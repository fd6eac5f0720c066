import { describe, expect, it } from "vitest";
import { createSeededRandom } from "../balancing/seeded-random.js";
import {
  DEFAULT_BURST_OPTIONS,
  initialBurstState,
  observeRate,
  type BurstOptions,
  type BurstState,
} from "./burst-detector.js";
import type { BurstEvent } from "./forecast-types.js";

const START_MS = 1_700_000_000_000;
/** The coordinator reports load every sync_interval_sec, 15 s by default. */
const STEP_MS = 15_000;

/** A rate around `meanAt(i)` with Gaussian noise of `noiseFraction` of the mean (Box-Muller over a seeded source). */
function noisyRates(
  count: number,
  meanAt: (index: number) => number,
  noiseFraction: number,
  seed: number,
): number[] {
  const random = createSeededRandom(seed);
  return Array.from({ length: count }, (_, index) => {
    const gaussian = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    return Math.max(0, meanAt(index) * (1 + noiseFraction * gaussian));
  });
}

interface Run {
  readonly events: { readonly index: number; readonly event: BurstEvent }[];
  readonly states: BurstState[];
}

/** Feeds the rates one per STEP_MS; `roundTrip` sends the state through JSON between observations, as a restart would. */
function run(rates: readonly number[], options: BurstOptions = {}, roundTrip = false): Run {
  let state = initialBurstState();
  const events: Run["events"] = [];
  const states: BurstState[] = [];
  rates.forEach((rate, index) => {
    const input = roundTrip ? (JSON.parse(JSON.stringify(state)) as BurstState) : state;
    const step = observeRate(input, { atMs: START_MS + index * STEP_MS, rate }, options);
    state = step.state;
    states.push(state);
    if (step.event !== undefined) events.push({ index, event: step.event });
  });
  return { events, states };
}

function steady(count: number, rate: number): number[] {
  return Array.from({ length: count }, () => rate);
}

describe("observeRate", () => {
  it.each([{ seed: 1 }, { seed: 2 }, { seed: 3 }])(
    "raises no burst over 10,000 observations of a flat rate with 20 percent noise (seed $seed)",
    ({ seed }) => {
      const { events, states } = run(noisyRates(10_000, () => 10, 0.2, seed));
      expect(events).toEqual([]);
      // The baseline learned the level and the noise: 10/s, σ near 2/s on average.
      const mean = (values: number[]): number =>
        values.reduce((sum, value) => sum + value, 0) / values.length;
      expect(mean(states.map((s) => s.baselineRate))).toBeCloseTo(10, 0);
      expect(mean(states.map((s) => Math.sqrt(s.baselineVariance)))).toBeGreaterThan(1.6);
      expect(mean(states.map((s) => Math.sqrt(s.baselineVariance)))).toBeLessThan(2.4);
    },
  );

  it("starts a burst within a few observations of a step from 10/s to 40/s and ends it after the rate returns", () => {
    const rates = [
      ...noisyRates(60, () => 10, 0.1, 7),
      ...noisyRates(20, () => 40, 0.1, 8),
      ...noisyRates(40, () => 10, 0.1, 9),
    ];
    const { events, states } = run(rates);

    expect(events.map((e) => e.event.kind)).toEqual(["start", "end"]);
    const [start, end] = events;
    expect(start!.index).toBeGreaterThanOrEqual(60);
    expect(start!.index).toBeLessThanOrEqual(62);
    expect(start!.event.atMs).toBe(START_MS + start!.index * STEP_MS);
    expect(start!.event.rate).toBe(rates[start!.index]);
    expect(start!.event.baseline).toBeGreaterThan(8);
    expect(start!.event.baseline).toBeLessThan(12);
    expect(start!.event.message).toMatch(
      /^arrival rate \d+\.\d\/s is \d+\.\dσ above the baseline \d+\.\d\/s \(σ \d+\.\d\/s\): burst started/,
    );

    // Ended by the third quiet observation after the return, against the baseline from before the burst.
    expect(end!.index).toBeGreaterThanOrEqual(80 + DEFAULT_BURST_OPTIONS.minQuietSamples - 1);
    expect(end!.index).toBeLessThanOrEqual(84);
    expect(end!.event.baseline).toBe(start!.event.baseline);
    expect(end!.event.message).toContain("for 3 observations: burst ended");
    expect(end!.event.message).toMatch(/peaked at 4\d\.\d\/s/);
    expect(states[end!.index]).toMatchObject({
      isBursting: false,
      cusum: 0,
      burstSamples: 0,
      quietSamples: 0,
    });
  });

  it("does not let a burst teach the baseline that it is normal", () => {
    const { states, events } = run([...steady(20, 10), ...steady(30, 40)], {
      maxBurstSamples: 1000,
    });
    expect(events.map((e) => e.event.kind)).toEqual(["start"]);
    expect(states[states.length - 1]!.baselineRate).toBeCloseTo(10, 9);
  });

  it("keeps counting quiet observations only while they are consecutive", () => {
    // Baseline 10 (σ floored at 1): quiet means below 11.
    const { events } = run([...steady(20, 10), 40, 10, 10, 40, 10, 10, 10]);
    expect(events.map((e) => [e.index, e.event.kind])).toEqual([
      [20, "start"],
      [26, "end"],
    ]);
  });

  it.each([
    { name: "with noise", noise: 0.2 },
    { name: "without noise", noise: 0 },
  ])(
    "takes a slow ramp from 10/s to 40/s over two hours as a trend, not a burst ($name)",
    ({ noise }) => {
      const rampSamples = (2 * 3600_000) / STEP_MS;
      const rates = [
        ...noisyRates(60, () => 10, noise, 11),
        ...noisyRates(rampSamples, (i) => 10 + (30 * i) / rampSamples, noise, 12),
      ];
      const { events, states } = run(rates);
      expect(events).toEqual([]);
      // The baseline kept up with the ramp.
      expect(states[states.length - 1]!.baselineRate).toBeGreaterThan(35);
    },
  );

  it("takes the same rise over one minute as a burst", () => {
    const riseSamples = 60_000 / STEP_MS;
    const rates = [
      ...noisyRates(60, () => 10, 0.2, 11),
      ...noisyRates(
        riseSamples + 20,
        (i) => 10 + (30 * Math.min(i, riseSamples)) / riseSamples,
        0.2,
        12,
      ),
    ];
    const { events } = run(rates);
    expect(events[0]?.event.kind).toBe("start");
    expect(events[0]!.index).toBeLessThan(60 + riseSamples + 3);
  });

  it("raises no event during the warm-up, however far the rate jumps", () => {
    const { events, states } = run([10, 10, 10, 10, 1000, 10, 10, 10, 10, 10]);
    expect(events).toEqual([]);
    expect(states.every((s) => s.cusum === 0 && !s.isBursting)).toBe(true);
    expect(states[9]!.baselineSamples).toBe(DEFAULT_BURST_OPTIONS.minSamples);
  });

  it("can start a burst on the first observation after the warm-up", () => {
    const { events } = run([...steady(10, 10), 40]);
    expect(events.map((e) => [e.index, e.event.kind])).toEqual([[10, "start"]]);
  });

  it("honours a shorter warm-up and a stricter quiet rule from the options", () => {
    const { events } = run([...steady(3, 10), 40, 10, 10, 10, 10], {
      minSamples: 3,
      minQuietSamples: 4,
    });
    expect(events.map((e) => [e.index, e.event.kind])).toEqual([
      [3, "start"],
      [7, "end"],
    ]);
  });

  it("ends a burst that lasts past maxBurstSamples as the new level and learns the baseline again", () => {
    const { events, states } = run([...steady(20, 10), ...steady(40, 40)], { maxBurstSamples: 10 });
    expect(events.map((e) => [e.index, e.event.kind])).toEqual([
      [20, "start"],
      [29, "end"],
    ]);
    expect(events[1]!.event.message).toContain("taken as the new level");
    // No second burst at 40/s: the baseline now is 40.
    const last = states[states.length - 1]!;
    expect(last.isBursting).toBe(false);
    expect(last.baselineRate).toBeCloseTo(40, 9);
  });

  it("ignores readings that are not finite or negative", () => {
    const before = run(steady(20, 10)).states[19]!;
    for (const rate of [Number.NaN, Number.POSITIVE_INFINITY, -1]) {
      expect(observeRate(before, { atMs: START_MS, rate })).toEqual({ state: before });
    }
  });

  it("gives the same events and states when the state goes through JSON between observations", () => {
    const rates = [
      ...noisyRates(60, () => 10, 0.1, 21),
      ...noisyRates(10, () => 40, 0.1, 22),
      ...noisyRates(30, () => 10, 0.1, 23),
    ];
    const direct = run(rates);
    const restored = run(rates, {}, true);
    expect(direct.events.map((e) => e.event.kind)).toEqual(["start", "end"]);
    expect(restored.events).toEqual(direct.events);
    for (const [index, state] of direct.states.entries()) {
      expect(JSON.parse(JSON.stringify(state))).toStrictEqual(state);
      expect(restored.states[index]).toStrictEqual(state);
    }
  });

  it.each<{ name: string; options: BurstOptions }>([
    { name: "a zero decision interval", options: { decisionSigmas: 0 } },
    { name: "a baseline weight above 1", options: { baselineWeight: 1.5 } },
    { name: "a fractional warm-up", options: { minSamples: 2.5 } },
    { name: "no quiet observations", options: { minQuietSamples: 0 } },
  ])("rejects $name", ({ options }) => {
    expect(() => observeRate(initialBurstState(), { atMs: START_MS, rate: 1 }, options)).toThrow(
      RangeError,
    );
  });
});
