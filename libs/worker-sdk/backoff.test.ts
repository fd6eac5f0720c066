import { describe, expect, it } from "vitest";
import { backoffCapMs, reconnectDelayMs } from "./backoff.js";

const policy = { initialMs: 200, maxMs: 5000 };

describe("backoffCapMs", () => {
  it.each([
    { attempt: 0, capMs: 200 },
    { attempt: 1, capMs: 400 },
    { attempt: 3, capMs: 1600 },
    { attempt: 4, capMs: 3200 },
    { attempt: 5, capMs: 5000 },
    { attempt: 60, capMs: 5000 },
    { attempt: 5000, capMs: 5000 },
  ])("doubles from the initial delay and stops at the maximum (attempt $attempt → $capMs ms)", ({ attempt, capMs }) => {
    expect(backoffCapMs(policy, attempt)).toBe(capMs);
  });

  it("never goes below the initial delay, even when max is configured lower", () => {
    expect(backoffCapMs({ initialMs: 300, maxMs: 100 }, 4)).toBe(300);
  });
});

describe("reconnectDelayMs", () => {
  it("stays within [0, cap) for every draw of the random source (full jitter)", () => {
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const cap = backoffCapMs(policy, attempt);
      for (const draw of [0, 0.25, 0.5, 0.999999]) {
        const delay = reconnectDelayMs(policy, attempt, () => draw);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(cap);
        expect(delay).toBeLessThanOrEqual(policy.maxMs);
      }
    }
  });

  it("uses the whole range under the cap with a seeded source", () => {
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const delays = Array.from({ length: 500 }, () => reconnectDelayMs(policy, 10, random));
    expect(Math.min(...delays)).toBeLessThan(policy.maxMs * 0.1);
    expect(Math.max(...delays)).toBeGreaterThan(policy.maxMs * 0.9);
  });
});
