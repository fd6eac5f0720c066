import { describe, expect, it } from "vitest";
import type { ScalingSignals, ScalingTargets, SignalProposal } from "./autoscale-types.js";
import { describeProposal, proposeBySignal, type ProposalInput } from "./signal-proposals.js";

const TOLERANCES = { up: { tolerance: 0.1 }, down: { tolerance: 0.1 } };

function proposalInput(
  readyWorkers: number,
  signals: Partial<ScalingSignals>,
  targets: Partial<ScalingTargets> = {},
): ProposalInput {
  return {
    readyWorkers,
    signals: { pendingTasks: 0, inFlightTasks: 0, ...signals },
    targets: { slotUtilization: 0.5, ...targets },
    tolerances: TOLERANCES,
  };
}

interface Case {
  readonly name: string;
  readonly input: ProposalInput;
  readonly expected: ReadonlyArray<Pick<SignalProposal, "signal" | "workers">>;
}

describe("proposeBySignal", () => {
  const cases: Case[] = [
    {
      name: "ratio rule up: ceil(4 × 0.8 / 0.5) = 7",
      input: proposalInput(4, { slotUtilization: 0.8 }),
      expected: [{ signal: "slotUtilization", workers: 7 }],
    },
    {
      name: "ratio rule down: ceil(10 × 0.12 / 0.5) = 3",
      input: proposalInput(10, { slotUtilization: 0.12 }),
      expected: [{ signal: "slotUtilization", workers: 3 }],
    },
    {
      name: "a ratio of exactly 1 + tolerance stays",
      input: proposalInput(4, { slotUtilization: 0.55 }),
      expected: [{ signal: "slotUtilization", workers: 4 }],
    },
    {
      name: "a ratio of exactly 1 − tolerance stays",
      input: proposalInput(4, { slotUtilization: 0.45 }),
      expected: [{ signal: "slotUtilization", workers: 4 }],
    },
    {
      name: "just past the up tolerance moves",
      input: proposalInput(4, { slotUtilization: 0.56 }),
      expected: [{ signal: "slotUtilization", workers: 5 }],
    },
    {
      name: "an exact ratio does not round up through float error",
      input: proposalInput(3, { slotUtilization: 1.1 }, { slotUtilization: 0.55 }),
      expected: [{ signal: "slotUtilization", workers: 6 }],
    },
    {
      name: "CPU and memory follow the same rule, each against its own target",
      input: proposalInput(
        4,
        { cpuUtilization: 0.9, memoryUtilization: 0.2 },
        { cpuUtilization: 0.6, memoryUtilization: 0.8 },
      ),
      expected: [
        { signal: "cpuUtilization", workers: 6 },
        { signal: "memoryUtilization", workers: 1 },
      ],
    },
    {
      name: "pending tasks: ceil(total / per-worker target), as KEDA's queue length",
      input: proposalInput(4, { pendingTasks: 9 }, { pendingTasksPerWorker: 2 }),
      expected: [{ signal: "pendingTasksPerWorker", workers: 5 }],
    },
    {
      name: "pending tasks inside the tolerance of the per-worker target keep the count",
      // 8.5 / (2 × 4) = 1.06
      input: proposalInput(4, { pendingTasks: 8.5 }, { pendingTasksPerWorker: 2 }),
      expected: [{ signal: "pendingTasksPerWorker", workers: 4 }],
    },
    {
      name: "no pending tasks ask for no workers (the other signals keep the fleet)",
      input: proposalInput(4, { pendingTasks: 0 }, { pendingTasksPerWorker: 2 }),
      expected: [{ signal: "pendingTasksPerWorker", workers: 0 }],
    },
    {
      name: "request rate: ceil(rate / per-worker rate)",
      input: proposalInput(2, { requestRatePerSec: 31 }, { requestRatePerWorkerPerSec: 10 }),
      expected: [{ signal: "requestRatePerWorkerPerSec", workers: 4 }],
    },
    {
      name: "with no ready workers the ratio rule gives 0 and the totals still count",
      input: proposalInput(
        0,
        { slotUtilization: 0.9, pendingTasks: 5 },
        { pendingTasksPerWorker: 2 },
      ),
      expected: [
        { signal: "slotUtilization", workers: 0 },
        { signal: "pendingTasksPerWorker", workers: 3 },
      ],
    },
    {
      name: "a signal without a target, or a target of 0, takes no part",
      input: proposalInput(
        4,
        { cpuUtilization: 0.9, requestRatePerSec: 100, pendingTasks: 40 },
        { requestRatePerWorkerPerSec: 0 },
      ),
      expected: [],
    },
    {
      name: "a missing, negative or non-finite measurement takes no part",
      input: proposalInput(
        4,
        {
          slotUtilization: Number.POSITIVE_INFINITY,
          cpuUtilization: Number.NaN,
          memoryUtilization: -1,
        },
        { cpuUtilization: 0.5, memoryUtilization: 0.5 },
      ),
      expected: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(proposeBySignal(c.input).map(({ signal, workers }) => ({ signal, workers }))).toEqual(
        c.expected,
      );
    });
  }

  it("reports the measured value and the target with each proposal", () => {
    expect(proposeBySignal(proposalInput(4, { slotUtilization: 0.8 }))).toEqual([
      { signal: "slotUtilization", value: 0.8, target: 0.5, workers: 7 },
    ]);
  });
});

describe("describeProposal", () => {
  const cases = [
    {
      signal: "slotUtilization",
      value: 0.8,
      target: 0.5,
      readyWorkers: 4,
      expected: "slot utilization 0.80 is above target 0.50 (tolerance 0.10)",
    },
    {
      signal: "cpuUtilization",
      value: 0.2,
      target: 0.5,
      readyWorkers: 4,
      expected: "CPU utilization 0.20 is below target 0.50 (tolerance 0.10)",
    },
    {
      signal: "memoryUtilization",
      value: 0.5,
      target: 0.5,
      readyWorkers: 4,
      expected: "memory utilization 0.50 is within target 0.50 (tolerance 0.10)",
    },
    {
      signal: "pendingTasksPerWorker",
      value: 9,
      target: 2,
      readyWorkers: 0,
      expected: "pending tasks 9 (no ready workers) is above target 2 per worker (tolerance 0.10)",
    },
    {
      signal: "requestRatePerWorkerPerSec",
      value: 12,
      target: 10,
      readyWorkers: 2,
      expected:
        "request rate 12.0/s (6.00/s per ready worker) is below target 10.0/s per worker (tolerance 0.10)",
    },
  ] as const;
  for (const c of cases) {
    it(`describes ${c.signal}`, () => {
      const proposal = { signal: c.signal, value: c.value, target: c.target, workers: 0 };
      expect(
        describeProposal(proposal, { readyWorkers: c.readyWorkers, tolerances: TOLERANCES }),
      ).toBe(c.expected);
    });
  }
});
