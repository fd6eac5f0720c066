import { describe, expect, it } from "vitest";
import type { LoadRecord } from "../scaling/load-record.js";
import { efficiencyOf } from "./efficiency.js";
import type { EfficiencyFigures } from "./forecast-types.js";

const T0_MS = 1_700_000_000_000;

/** A sample `atSec` seconds after T0_MS. */
function sample(
  atSec: number,
  load: { workers: number; totalSlots: number; busySlots?: number; completionRatePerSec?: number },
): LoadRecord {
  return {
    observedAtMs: T0_MS + atSec * 1000,
    busySlots: 0,
    pendingTasks: 0,
    meanCpuUtilization: 0,
    arrivalRatePerSec: 0,
    completionRatePerSec: 0,
    ...load,
  };
}

type Figures = Omit<EfficiencyFigures, "fromMs" | "toMs">;

interface Case {
  readonly name: string;
  readonly samples: readonly LoadRecord[];
  /** The window in seconds after T0_MS. */
  readonly fromSec: number;
  readonly toSec: number;
  readonly expected: Figures;
}

const ZERO: Figures = {
  slotUtilization: 0,
  idleWorkerSeconds: 0,
  workerSeconds: 0,
  tasksPerWorkerSecond: 0,
};
const steady = sample(0, { workers: 4, totalSlots: 16, busySlots: 8, completionRatePerSec: 2 });
const busyThenQuiet = [
  sample(0, { workers: 2, totalSlots: 8, busySlots: 8, completionRatePerSec: 4 }),
  sample(30, { workers: 4, totalSlots: 16, busySlots: 4, completionRatePerSec: 1 }),
];

function expectFigures(actual: EfficiencyFigures, c: Case): void {
  expect(actual.fromMs).toBe(T0_MS + c.fromSec * 1000);
  expect(actual.toMs).toBe(T0_MS + c.toSec * 1000);
  for (const key of Object.keys(c.expected) as (keyof Figures)[]) {
    expect(Number.isFinite(actual[key]), key).toBe(true);
    expect(actual[key], key).toBeCloseTo(c.expected[key], 9);
  }
}

describe("efficiencyOf", () => {
  const cases: Case[] = [
    {
      name: "gives zeros, not NaN, for no samples",
      samples: [],
      fromSec: 0,
      toSec: 60,
      expected: ZERO,
    },
    {
      name: "gives zeros for a zero-length window",
      samples: [steady],
      fromSec: 10,
      toSec: 10,
      expected: ZERO,
    },
    {
      name: "gives zeros for a window that ends before it starts",
      samples: [steady],
      fromSec: 60,
      toSec: 0,
      expected: ZERO,
    },
    {
      name: "holds one sample to the window's end",
      // 4 workers × 100 s; 8 of 16 slots busy; 8 busy slots fill 2 workers of 4 slots, 2 idle; 200 tasks over 400 worker-seconds.
      samples: [steady],
      fromSec: 0,
      toSec: 100,
      expected: {
        workerSeconds: 400,
        slotUtilization: 0.5,
        idleWorkerSeconds: 200,
        tasksPerWorkerSecond: 0.5,
      },
    },
    {
      name: "holds each sample until the next",
      // 2 workers for 30 s and 4 for 60 s: 300 worker-seconds; (8·30 + 4·60) / (8·30 + 16·60) = 0.4;
      // idle 0 then 3 workers for 60 s; (4·30 + 1·60) tasks / 300.
      samples: busyThenQuiet,
      fromSec: 0,
      toSec: 90,
      expected: {
        workerSeconds: 300,
        slotUtilization: 0.4,
        idleWorkerSeconds: 180,
        tasksPerWorkerSecond: 0.6,
      },
    },
    {
      name: "reads samples in time order whatever order they come in",
      samples: [...busyThenQuiet].reverse(),
      fromSec: 0,
      toSec: 90,
      expected: {
        workerSeconds: 300,
        slotUtilization: 0.4,
        idleWorkerSeconds: 180,
        tasksPerWorkerSecond: 0.6,
      },
    },
    {
      name: "lets a sample from before the window hold into it",
      samples: [sample(-50, { workers: 3, totalSlots: 6, busySlots: 3, completionRatePerSec: 3 })],
      fromSec: 0,
      toSec: 10,
      // ceil(3 / 2) = 2 workers busy, 1 idle.
      expected: {
        workerSeconds: 30,
        slotUtilization: 0.5,
        idleWorkerSeconds: 10,
        tasksPerWorkerSecond: 1,
      },
    },
    {
      name: "counts nothing before the first sample nor after the window",
      samples: [
        sample(60, { workers: 1, totalSlots: 4, busySlots: 1, completionRatePerSec: 1 }),
        sample(200, { workers: 50, totalSlots: 200, busySlots: 200 }),
      ],
      fromSec: 0,
      toSec: 100,
      expected: {
        workerSeconds: 40,
        slotUtilization: 0.25,
        idleWorkerSeconds: 0,
        tasksPerWorkerSecond: 1,
      },
    },
    {
      name: "cuts a sample's hold at a later sample inside the window and at its end",
      samples: [
        sample(0, { workers: 2, totalSlots: 4, busySlots: 0 }),
        sample(10, { workers: 2, totalSlots: 4, busySlots: 4 }),
        sample(20, { workers: 2, totalSlots: 4, busySlots: 0 }),
      ],
      fromSec: 5,
      toSec: 15,
      // 5 s all idle, 5 s full.
      expected: {
        workerSeconds: 20,
        slotUtilization: 0.5,
        idleWorkerSeconds: 10,
        tasksPerWorkerSecond: 0,
      },
    },
    {
      name: "lets the later of two samples at the same instant hold",
      samples: [
        sample(0, { workers: 9, totalSlots: 9 }),
        sample(0, { workers: 1, totalSlots: 2, busySlots: 1 }),
      ],
      fromSec: 0,
      toSec: 10,
      expected: {
        workerSeconds: 10,
        slotUtilization: 0.5,
        idleWorkerSeconds: 0,
        tasksPerWorkerSecond: 0,
      },
    },
    {
      name: "needs no fourth worker for 10 busy slots over 3 workers of 10/3 slots",
      samples: [sample(0, { workers: 3, totalSlots: 10, busySlots: 10 })],
      fromSec: 0,
      toSec: 10,
      expected: {
        workerSeconds: 30,
        slotUtilization: 1,
        idleWorkerSeconds: 0,
        tasksPerWorkerSecond: 0,
      },
    },
    {
      name: "rounds a part-busy worker up to a busy one",
      // 5 busy slots of 4 per worker need 2 of the 4 workers.
      samples: [sample(0, { workers: 4, totalSlots: 16, busySlots: 5 })],
      fromSec: 0,
      toSec: 10,
      expected: {
        workerSeconds: 40,
        slotUtilization: 5 / 16,
        idleWorkerSeconds: 20,
        tasksPerWorkerSecond: 0,
      },
    },
    {
      name: "gives zeros, not NaN, for a fleet of no workers and no slots",
      samples: [sample(0, { workers: 0, totalSlots: 0, completionRatePerSec: 0 })],
      fromSec: 0,
      toSec: 10,
      expected: ZERO,
    },
    {
      name: "counts workers without slots as idle",
      samples: [sample(0, { workers: 2, totalSlots: 0 })],
      fromSec: 0,
      toSec: 10,
      expected: {
        workerSeconds: 20,
        slotUtilization: 0,
        idleWorkerSeconds: 20,
        tasksPerWorkerSecond: 0,
      },
    },
  ];

  it.each(cases)("$name", (c) => {
    expectFigures(efficiencyOf(c.samples, T0_MS + c.fromSec * 1000, T0_MS + c.toSec * 1000), c);
  });

  it("does not reorder the caller's samples", () => {
    const samples = [...busyThenQuiet].reverse();
    const before = [...samples];
    efficiencyOf(samples, T0_MS, T0_MS + 90_000);
    expect(samples).toEqual(before);
  });
});
