import { describe, expect, it } from "vitest";
import type { AutoscaleConfig } from "./autoscale-types.js";
import { applyBounds, upperBoundOf } from "./fleet-bounds.js";
import type { BurstPhase } from "./burst-mode.js";
import type { ScaleCandidate } from "./scale-candidate.js";

type BoundsConfig = Pick<
  AutoscaleConfig,
  "minWorkers" | "maxWorkers" | "hardMaxWorkers" | "burstFactor" | "allowScaleToZero"
>;
const CONFIG: BoundsConfig = {
  minWorkers: 2,
  maxWorkers: 10,
  hardMaxWorkers: 14,
  burstFactor: 1.5,
  allowScaleToZero: false,
};

const wants = (workers: number): ScaleCandidate => ({
  workers,
  reason: "ScaleDown",
  message: "raw",
});

function bound(
  candidate: number,
  fleetWorkers: number,
  phase: BurstPhase,
  config: Partial<BoundsConfig> = {},
): ScaleCandidate {
  const merged = { ...CONFIG, ...config };
  return applyBounds(wants(candidate), {
    fleetWorkers,
    config: merged,
    upper: upperBoundOf(merged, phase),
  });
}

describe("applyBounds", () => {
  const cases = [
    {
      name: "leaves a count inside the bounds",
      args: [5, 4, "normal"],
      workers: 5,
      reason: "ScaleDown",
    },
    { name: "raises to min_workers", args: [1, 4, "normal"], workers: 2, reason: "AtMinimum" },
    { name: "lowers to max_workers", args: [12, 4, "normal"], workers: 10, reason: "AtMaximum" },
    {
      name: "lets a burst reach ceil(max × factor) when hard_max_workers allows",
      args: [30, 10, "burst", { hardMaxWorkers: 20 }],
      workers: 15,
      reason: "AtMaximum",
    },
    {
      name: "holds a burst at hard_max_workers",
      args: [30, 10, "burst"],
      workers: 14,
      reason: "AtHardMaximum",
    },
    {
      name: "a hard_max_workers below max_workers wins",
      args: [12, 4, "normal", { hardMaxWorkers: 8 }],
      workers: 8,
      reason: "AtHardMaximum",
    },
    {
      name: "a hard_max_workers below min_workers wins too",
      args: [1, 4, "normal", { minWorkers: 6, hardMaxWorkers: 5 }],
      workers: 5,
      reason: "AtMinimum",
    },
    {
      name: "a burst's end takes the fleet back to max_workers",
      args: [14, 14, "ended"],
      workers: 10,
      reason: "BurstEnded",
    },
    {
      name: "min_workers 0 without scale_to_zero keeps one",
      args: [0, 3, "normal", { minWorkers: 0 }],
      workers: 1,
      reason: "AtMinimum",
    },
    {
      name: "min_workers 0 with scale_to_zero empties the fleet",
      args: [0, 3, "normal", { minWorkers: 0, allowScaleToZero: true }],
      workers: 0,
      reason: "ScaleToZero",
    },
    {
      name: "an empty fleet without scale_to_zero is not grown for nothing",
      args: [0, 0, "normal", { minWorkers: 0 }],
      workers: 0,
      reason: "ScaleDown",
    },
  ] as const;
  for (const c of cases) {
    it(c.name, () => {
      const [candidate, fleet, phase, config] = c.args;
      const result = bound(candidate, fleet, phase, config);
      expect({ workers: result.workers, reason: result.reason }).toEqual({
        workers: c.workers,
        reason: c.reason,
      });
    });
  }
});
