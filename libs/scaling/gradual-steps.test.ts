import { describe, expect, it } from "vitest";
import { holdForStartingWorkers } from "./gradual-steps.js";
import type { ScaleCandidate } from "./scale-candidate.js";

const wants = (workers: number): ScaleCandidate => ({ workers, reason: "ScaleUp", message: "raw" });

describe("holdForStartingWorkers", () => {
  const cases = [
    {
      name: "passes everything when no worker is starting",
      candidate: 9,
      ready: 4,
      starting: 0,
      upper: 10,
      workers: 9,
      reason: "ScaleUp",
    },
    {
      name: "asks for no more than ready + starting",
      candidate: 9,
      ready: 4,
      starting: 2,
      upper: 10,
      workers: 6,
      reason: "WaitingForNewWorkers",
    },
    {
      name: "holds a scale-down too",
      candidate: 2,
      ready: 4,
      starting: 2,
      upper: 10,
      workers: 6,
      reason: "WaitingForNewWorkers",
    },
    {
      name: "lets a lower ceiling through",
      candidate: 8,
      ready: 8,
      starting: 4,
      upper: 8,
      workers: 8,
      reason: "ScaleUp",
    },
    {
      name: "raises a count below a lower ceiling back to it",
      candidate: 5,
      ready: 8,
      starting: 4,
      upper: 8,
      workers: 8,
      reason: "WaitingForNewWorkers",
    },
  ] as const;
  for (const c of cases) {
    it(c.name, () => {
      const result = holdForStartingWorkers(wants(c.candidate), {
        readyWorkers: c.ready,
        startingWorkers: c.starting,
        upperBoundWorkers: c.upper,
      });
      expect({ workers: result.workers, reason: result.reason }).toEqual({
        workers: c.workers,
        reason: c.reason,
      });
    });
  }
});
