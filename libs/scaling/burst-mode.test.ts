import { describe, expect, it } from "vitest";
import type { AutoscaleState } from "./autoscale-types.js";
import { advanceBurst, burstCeilingOf, type BurstInput } from "./burst-mode.js";
import type { ScaleCandidate } from "./scale-candidate.js";

const NOW_MS = 1_700_000_000_000;
const CONFIG = { maxWorkers: 10, burstFactor: 1.5, maxBurstDurationSec: 120, hardMaxWorkers: 20 };

function burstInput(options: {
  raw?: number;
  state?:
    | AutoscaleState["burstStartedAtMs"]
    | Partial<Pick<AutoscaleState, "burstStartedAtMs" | "isBurstSpent">>;
  detected?: boolean;
  config?: Partial<typeof CONFIG>;
}): BurstInput {
  const state =
    typeof options.state === "number" ? { burstStartedAtMs: options.state } : (options.state ?? {});
  return {
    nowMs: NOW_MS,
    rawWorkers: options.raw ?? 0,
    config: { ...CONFIG, ...options.config },
    state,
    isBurstDetected: options.detected ?? false,
  };
}

const demand = (workers: number): ScaleCandidate => ({
  workers,
  reason: "ScaleUp",
  message: "raw",
});

describe("advanceBurst", () => {
  const cases = [
    {
      name: "stays normal while the demand fits",
      demand: 10,
      input: burstInput({ raw: 10 }),
      phase: "normal",
      reason: "ScaleUp",
      startedAtMs: undefined,
      isSpent: false,
    },
    {
      name: "starts on demand above max_workers",
      demand: 11,
      input: burstInput({ raw: 11 }),
      phase: "started",
      reason: "BurstStarted",
      startedAtMs: NOW_MS,
      isSpent: false,
    },
    {
      name: "starts when the optimizer detects a burst",
      demand: 6,
      input: burstInput({ raw: 6, detected: true }),
      phase: "started",
      reason: "BurstStarted",
      startedAtMs: NOW_MS,
      isSpent: false,
    },
    {
      name: "never starts when the ceiling is no higher than max_workers",
      demand: 14,
      input: burstInput({ raw: 14, config: { burstFactor: 1 } }),
      phase: "normal",
      reason: "ScaleUp",
      startedAtMs: undefined,
      isSpent: false,
    },
    {
      name: "continues inside its duration",
      demand: 14,
      input: burstInput({ raw: 14, state: NOW_MS - 119_999 }),
      phase: "burst",
      reason: "ScaleUp",
      startedAtMs: NOW_MS - 119_999,
      isSpent: false,
    },
    {
      name: "ends when its duration is up, whatever the demand",
      demand: 14,
      input: burstInput({ raw: 14, state: NOW_MS - 120_000 }),
      phase: "ended",
      reason: "BurstEnded",
      startedAtMs: undefined,
      isSpent: true,
    },
    {
      name: "a spent burst does not start again while the demand stays above max_workers",
      demand: 14,
      input: burstInput({ raw: 14, state: { isBurstSpent: true } }),
      phase: "normal",
      reason: "ScaleUp",
      startedAtMs: undefined,
      isSpent: true,
    },
    {
      name: "a spent burst is forgiven once the raw demand fits",
      demand: 9,
      input: burstInput({ raw: 9, state: { isBurstSpent: true } }),
      phase: "normal",
      reason: "ScaleUp",
      startedAtMs: undefined,
      isSpent: false,
    },
  ] as const;
  for (const c of cases) {
    it(c.name, () => {
      const outcome = advanceBurst(demand(c.demand), c.input);
      expect({
        phase: outcome.phase,
        reason: outcome.candidate.reason,
        startedAtMs: outcome.burstStartedAtMs,
        isSpent: outcome.isBurstSpent,
      }).toEqual({
        phase: c.phase,
        reason: c.reason,
        startedAtMs: c.startedAtMs,
        isSpent: c.isSpent,
      });
      expect(outcome.candidate.workers).toBe(c.demand);
    });
  }
});

describe("burstCeilingOf", () => {
  it("is ceil(max_workers × burst_factor), hard_max_workers at most", () => {
    expect(burstCeilingOf({ maxWorkers: 10, burstFactor: 1.1, hardMaxWorkers: 99 })).toBe(11);
    expect(burstCeilingOf({ maxWorkers: 7, burstFactor: 1.5, hardMaxWorkers: 99 })).toBe(11);
    expect(burstCeilingOf({ maxWorkers: 10, burstFactor: 2, hardMaxWorkers: 15 })).toBe(15);
  });
});
