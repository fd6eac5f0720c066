import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_TIERS, type Point, type TierSpec } from "./forecast-types.js";
import { createSignalHistory, restoreSignalHistory, type SignalHistory } from "./signal-history.js";

const T0 = Date.UTC(2025, 0, 6); // a Monday, on every tier's bucket boundary
const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** Appends `value(i)` once a second for `seconds` seconds from `startMs`. */
function feed(
  history: SignalHistory,
  startMs: number,
  seconds: number,
  value: (i: number) => number,
): void {
  for (let i = 0; i < seconds; i += 1) history.append(startMs + i * SEC, value(i));
}

/** The bucket means a tier of `resolutionMs` should hold, computed by hand. */
function meansByBucket(samples: readonly Point[], resolutionMs: number): Point[] {
  const buckets = new Map<number, number[]>();
  for (const { atMs, value } of samples) {
    const start = Math.floor(atMs / resolutionMs) * resolutionMs;
    buckets.set(start, [...(buckets.get(start) ?? []), value]);
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([atMs, values]) => ({ atMs, value: values.reduce((s, v) => s + v, 0) / values.length }));
}

function expectPointsClose(actual: readonly Point[], expected: readonly Point[]): void {
  expect(actual.map((p) => p.atMs)).toEqual(expected.map((p) => p.atMs));
  actual.forEach((p, i) => expect(p.value).toBeCloseTo((expected[i] as Point).value, 9));
}

describe("createSignalHistory", () => {
  it("averages values into buckets and answers oldest first", () => {
    const history = createSignalHistory();
    history.append(T0 + 1500, 4);
    history.append(T0 + 1200, 2);
    history.append(T0 + 200, 10);
    expect(history.points({ fromMs: T0, toMs: T0 + 10 * SEC })).toEqual([
      { atMs: T0, value: 10 },
      { atMs: T0 + SEC, value: 3 },
    ]);
  });

  it("ignores non-finite values and times", () => {
    const history = createSignalHistory();
    history.append(T0, Number.NaN);
    history.append(T0, Number.POSITIVE_INFINITY);
    history.append(Number.NaN, 1);
    history.append(T0, 5);
    expect(history.points({ fromMs: T0, toMs: T0 + SEC })).toEqual([{ atMs: T0, value: 5 }]);
  });

  it("accepts a late value inside a tier's retention and drops it from a tier whose retention has passed", () => {
    const history = createSignalHistory();
    feed(history, T0, 2 * 3600, () => 1); // two hours: the 1 s tier holds only the last one
    history.append(T0 + 30 * MIN, 61); // 90 minutes late
    const minute = history.points({ fromMs: T0 + 30 * MIN, toMs: T0 + 31 * MIN - 1 });
    expect(minute).toEqual([{ atMs: T0 + 30 * MIN, value: (60 + 61) / 61 }]);
    // The 1 s tier never saw it: a query it covers shows no trace.
    const fine = history.points({ fromMs: T0 + 90 * MIN, toMs: T0 + 2 * HOUR });
    expect(fine.every((p) => p.value === 1)).toBe(true);
  });

  it.each([
    { name: "the last half hour from the 1 s tier", fromMs: T0 + 90 * MIN, resolutionMs: SEC },
    {
      name: "further back than an hour from the 1 min tier",
      fromMs: T0 + 30 * MIN,
      resolutionMs: MIN,
    },
    {
      name: "further back than the data from the 1 min tier, which holds it all",
      fromMs: T0 - 3 * DAY,
      resolutionMs: MIN,
    },
  ])("reads $name", ({ fromMs, resolutionMs }) => {
    const history = createSignalHistory();
    feed(history, T0, 2 * 3600, (i) => i % 7);
    const points = history.points({ fromMs, toMs: T0 + 2 * HOUR });
    const steps = points.slice(1).map((p, i) => p.atMs - (points[i] as Point).atMs);
    expect(new Set(steps)).toEqual(new Set([resolutionMs]));
    expect(points[0]?.atMs).toBe(Math.max(T0, Math.floor(fromMs / resolutionMs) * resolutionMs));
  });

  it("reads the 15 min tier for a range older than a day", () => {
    const history = createSignalHistory();
    for (let i = 0; i < 3 * 24 * 60; i += 1) history.append(T0 + i * MIN, 1); // three days, once a minute
    const points = history.points({ fromMs: T0, toMs: T0 + 3 * DAY });
    expect(points.map((p) => p.atMs).slice(0, 2)).toEqual([T0, T0 + 15 * MIN]);
  });

  it("merges buckets up to a requested resolution with the exact mean", () => {
    const history = createSignalHistory();
    const samples: Point[] = [];
    for (let i = 0; i < 3 * 3600; i += 7)
      samples.push({ atMs: T0 + i * SEC, value: (i * 13) % 29 });
    for (const { atMs, value } of samples) history.append(atMs, value);
    const points = history.points({ fromMs: T0, toMs: T0 + 3 * HOUR, resolutionSec: 300 });
    expectPointsClose(points, meansByBucket(samples, 300 * SEC));
  });

  it("keeps each tier's buckets within retention / resolution over three weeks of 1 Hz appends", () => {
    const history = createSignalHistory();
    const seconds = 21 * 86_400;
    feed(history, T0, seconds, (i) => i % 100);
    const bound = DEFAULT_TIERS.reduce(
      (sum, tier) => sum + Math.ceil(tier.retentionSec / tier.resolutionSec),
      0,
    );
    expect(history.size()).toBeLessThanOrEqual(bound);
    for (const tier of history.snapshot().tiers) {
      expect(tier.buckets.length).toBeLessThanOrEqual(
        tier.spec.retentionSec / tier.spec.resolutionSec,
      );
      expect(tier.buckets.at(-1)?.startMs).toBe(
        Math.floor((T0 + (seconds - 1) * SEC) / (tier.spec.resolutionSec * SEC)) *
          tier.spec.resolutionSec *
          SEC,
      );
    }
  });

  it("rejects tiers that cannot hold a bucket", () => {
    expect(() => createSignalHistory([])).toThrow(RangeError);
    expect(() => createSignalHistory([{ resolutionSec: 0, retentionSec: 60 }])).toThrow(RangeError);
    expect(() => createSignalHistory([{ resolutionSec: 60, retentionSec: 30 }])).toThrow(
      RangeError,
    );
  });

  it("holds the per-bucket mean of any appends inside the finest tier's retention (property)", () => {
    const sampleArb = fc.record({
      offsetMs: fc.integer({ min: 0, max: 50 * MIN }),
      value: fc.double({ min: -1000, max: 1000, noNaN: true }),
    });
    fc.assert(
      fc.property(fc.array(sampleArb, { minLength: 1, maxLength: 200 }), (raw) => {
        const samples = raw.map(({ offsetMs, value }) => ({ atMs: T0 + offsetMs, value }));
        const history = createSignalHistory();
        for (const { atMs, value } of samples) history.append(atMs, value);
        expectPointsClose(
          history.points({ fromMs: T0, toMs: T0 + HOUR }),
          meansByBucket(samples, SEC),
        );
        expectPointsClose(
          history.points({ fromMs: T0, toMs: T0 + HOUR, resolutionSec: 60 }),
          meansByBucket(samples, MIN),
        );
      }),
      { seed: 7, numRuns: 100 },
    );
  });
});

describe("restoreSignalHistory", () => {
  const queries = [
    { fromMs: T0, toMs: T0 + 30 * HOUR },
    { fromMs: T0 + 29 * HOUR, toMs: T0 + 30 * HOUR },
    { fromMs: T0 + 20 * HOUR, toMs: T0 + 30 * HOUR, resolutionSec: 300 },
    { fromMs: T0 - DAY, toMs: T0 + 30 * HOUR, resolutionSec: 900 },
  ];

  it("gives back the same points, and keeps behaving the same, after snapshot and restore", () => {
    const history = createSignalHistory();
    for (let i = 0; i < 30 * 3600; i += 3)
      history.append(T0 + i * SEC, Math.sin(i / 500) * 10 + 20);
    const restored = restoreSignalHistory(JSON.parse(JSON.stringify(history.snapshot())));
    expect(restored.size()).toBe(history.size());
    for (const query of queries) expect(restored.points(query)).toEqual(history.points(query));
    for (const target of [history, restored]) feed(target, T0 + 30 * HOUR, 1800, (i) => i);
    expect(restored.snapshot()).toEqual(history.snapshot());
  });

  it("rebuilds a tier missing from the snapshot from a finer one that divides it", () => {
    const coarser: TierSpec[] = [...DEFAULT_TIERS, { resolutionSec: 300, retentionSec: 86_400 }];
    const original = createSignalHistory();
    const withTier = createSignalHistory(coarser);
    for (let i = 0; i < 5 * 3600; i += 11) {
      original.append(T0 + i * SEC, i % 17);
      withTier.append(T0 + i * SEC, i % 17);
    }
    const restored = restoreSignalHistory(original.snapshot(), coarser);
    expect(restored.snapshot().tiers.find((t) => t.spec.resolutionSec === 300)).toEqual(
      withTier.snapshot().tiers.find((t) => t.spec.resolutionSec === 300),
    );
  });

  it("skips buckets that are not numbers or hold nothing", () => {
    const restored = restoreSignalHistory({
      tiers: [
        {
          spec: { resolutionSec: 60, retentionSec: 3600 },
          buckets: [
            { startMs: T0, sum: 6, count: 2 },
            { startMs: T0 + MIN, sum: Number.NaN, count: 1 },
            { startMs: T0 + 2 * MIN, sum: 1, count: 0 },
          ],
        },
      ],
    });
    expect(restored.points({ fromMs: T0, toMs: T0 + HOUR })).toEqual([{ atMs: T0, value: 3 }]);
  });
});
