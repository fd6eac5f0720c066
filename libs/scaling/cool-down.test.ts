import { describe, expect, it } from "vitest";
import { applyCoolDown } from "./cool-down.js";
import type { ScaleCandidate } from "./scale-candidate.js";

const NOW_MS = 1_700_000_000_000;
const wants = (workers: number): ScaleCandidate => ({
  workers,
  reason: "ScaleDown",
  message: "raw",
});

describe("applyCoolDown", () => {
  const cases = [
    {
      name: "holds a scale-down inside cool_down_sec",
      candidate: 3,
      lastAgoSec: 59,
      workers: 6,
      reason: "CoolingDown",
    },
    {
      name: "lets a scale-down through once cool_down_sec has passed",
      candidate: 3,
      lastAgoSec: 60,
      workers: 3,
      reason: "ScaleDown",
    },
    {
      name: "never delays a scale-up",
      candidate: 9,
      lastAgoSec: 1,
      workers: 9,
      reason: "ScaleDown",
    },
    {
      name: "does nothing before the first scale action",
      candidate: 3,
      lastAgoSec: undefined,
      workers: 3,
      reason: "ScaleDown",
    },
  ] as const;
  for (const c of cases) {
    it(c.name, () => {
      const lastScaleAtMs = c.lastAgoSec === undefined ? undefined : NOW_MS - c.lastAgoSec * 1000;
      const result = applyCoolDown(wants(c.candidate), {
        fleetWorkers: 6,
        nowMs: NOW_MS,
        coolDownSec: 60,
        ...(lastScaleAtMs !== undefined ? { lastScaleAtMs } : {}),
      });
      expect({ workers: result.workers, reason: result.reason }).toEqual({
        workers: c.workers,
        reason: c.reason,
      });
    });
  }
});
