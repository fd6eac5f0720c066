import { describe, expect, it } from "vitest";
import { createSeededRandom } from "../balancing/seeded-random.js";
import { backoffCeilingMs, backoffDelayMs, type BackoffPolicy } from "./index.js";

const policy: BackoffPolicy = { initialMs: 200, maxMs: 5000 };
const inverted: BackoffPolicy = { initialMs: 300, maxMs: 100 };
const zero: BackoffPolicy = { initialMs: 0, maxMs: 1000 };
/** The largest double below 1, the top of what Math.random returns. */
const ALMOST_ONE = 1 - Number.EPSILON / 2;

describe("backoffCeilingMs", () => {
  const cases: { name: string; policy: BackoffPolicy; failures: number; ceilingMs: number }[] = [
    { name: "zero failures wait nothing", policy, failures: 0, ceilingMs: 0 },
    { name: "a negative count waits nothing", policy, failures: -3, ceilingMs: 0 },
    { name: "the first failure: the initial delay", policy, failures: 1, ceilingMs: 200 },
    { name: "the second doubles it", policy, failures: 2, ceilingMs: 400 },
    { name: "the fourth doubles it twice more", policy, failures: 4, ceilingMs: 1600 },
    { name: "the fifth is still under the cap", policy, failures: 5, ceilingMs: 3200 },
    { name: "the sixth stops at the cap", policy, failures: 6, ceilingMs: 5000 },
    { name: "a long run stays at the cap", policy, failures: 60, ceilingMs: 5000 },
    { name: "a huge count does not overflow", policy, failures: 10_000, ceilingMs: 5000 },
    { name: "a cap below initialMs is raised", policy: inverted, failures: 4, ceilingMs: 300 },
    { name: "a zero initial delay never waits", policy: zero, failures: 7, ceilingMs: 0 },
  ];
  for (const c of cases) {
    it(`${c.name} (${c.failures} failures → ${c.ceilingMs} ms)`, () => {
      expect(backoffCeilingMs(c.policy, c.failures)).toBe(c.ceilingMs);
    });
  }
});

describe("backoffDelayMs", () => {
  const cases: { name: string; failures: number; draw: number; delayMs: number }[] = [
    { name: "random = 0 waits nothing (full jitter)", failures: 3, draw: 0, delayMs: 0 },
    { name: "random = 0.5 waits half the ceiling", failures: 3, draw: 0.5, delayMs: 400 },
    { name: "random → 1 stays below the ceiling", failures: 1, draw: ALMOST_ONE, delayMs: 199 },
    { name: "random → 1 stays below the cap", failures: 60, draw: ALMOST_ONE, delayMs: 4999 },
    { name: "zero failures wait nothing", failures: 0, draw: ALMOST_ONE, delayMs: 0 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(backoffDelayMs(policy, c.failures, () => c.draw)).toBe(c.delayMs);
    });
  }

  it("spreads a seeded source over the whole range below the ceiling", () => {
    const random = createSeededRandom(42);
    const delays = Array.from({ length: 500 }, () => backoffDelayMs(policy, 10, random));
    expect(delays.every((ms) => Number.isInteger(ms) && ms >= 0 && ms < policy.maxMs)).toBe(true);
    expect(Math.min(...delays)).toBeLessThan(policy.maxMs * 0.1);
    expect(Math.max(...delays)).toBeGreaterThan(policy.maxMs * 0.9);
  });
});
