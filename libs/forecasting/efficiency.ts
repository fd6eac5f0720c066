// How well the fleet's capacity was used over a window: slot utilization,
// idle worker-seconds and tasks per worker-second, from the coordinator's
// load samples. Each sample holds until the next (the coordinator reports
// every sync_interval_sec and nothing between), the last until the window's
// end; time before the first sample is unknown and counts for nothing.
import type { LoadRecord } from "../scaling/load-record.js";
import type { EfficiencyFigures } from "./forecast-types.js";

/** Floating-point slack: 10 busy slots over 3 workers of 10/3 slots each need 3 workers, not 4. */
const EPSILON = 1e-9;

interface Totals {
  workerSeconds: number;
  slotSeconds: number;
  busySlotSeconds: number;
  idleWorkerSeconds: number;
  tasksCompleted: number;
}

export function efficiencyOf(
  samples: readonly LoadRecord[],
  fromMs: number,
  toMs: number,
): EfficiencyFigures {
  const totals: Totals = {
    workerSeconds: 0,
    slotSeconds: 0,
    busySlotSeconds: 0,
    idleWorkerSeconds: 0,
    tasksCompleted: 0,
  };
  // A stable sort: of two samples at the same instant the later reported one holds.
  const ordered = [...samples].sort((a, b) => a.observedAtMs - b.observedAtMs);
  ordered.forEach((sample, index) => {
    const holdsUntilMs = ordered[index + 1]?.observedAtMs ?? toMs;
    const seconds = (Math.min(holdsUntilMs, toMs) - Math.max(sample.observedAtMs, fromMs)) / 1000;
    if (seconds > 0) addSample(totals, sample, seconds);
  });

  return {
    fromMs,
    toMs,
    slotUtilization: ratio(totals.busySlotSeconds, totals.slotSeconds),
    idleWorkerSeconds: totals.idleWorkerSeconds,
    workerSeconds: totals.workerSeconds,
    tasksPerWorkerSecond: ratio(totals.tasksCompleted, totals.workerSeconds),
  };
}

function addSample(totals: Totals, sample: LoadRecord, seconds: number): void {
  const workers = Math.max(0, sample.workers);
  totals.workerSeconds += workers * seconds;
  totals.slotSeconds += Math.max(0, sample.totalSlots) * seconds;
  totals.busySlotSeconds += Math.max(0, sample.busySlots) * seconds;
  totals.idleWorkerSeconds += Math.max(0, workers - busyWorkersOf(sample)) * seconds;
  totals.tasksCompleted += Math.max(0, sample.completionRatePerSec) * seconds;
}

/**
 * The fewest workers that hold the busy slots when tasks are packed. A sample
 * does not say how tasks are spread, so the workers left over are a lower
 * bound of the workers running nothing: the ones the fleet could have done without.
 */
function busyWorkersOf(sample: LoadRecord): number {
  if (sample.workers <= 0 || sample.totalSlots <= 0 || sample.busySlots <= 0) return 0;
  const slotsPerWorker = sample.totalSlots / sample.workers;
  return Math.ceil(sample.busySlots / slotsPerWorker - EPSILON);
}

/** Zero rather than NaN when there is nothing to divide by: an empty window used nothing. */
function ratio(part: number, whole: number): number {
  return whole > 0 ? part / whole : 0;
}
