// What the autoscaler measures, read from the coordinator's own state each
// sync: the ready fleet's slots and in-flight work, the queue, CPU and
// memory from heartbeats, and the arrival rate since the last sync. Only
// workers that take tasks count as capacity (a draining or cordoned worker
// is on its way out), but their in-flight work still counts as load.
import { WorkerState } from "../../libs/contracts/index.js";
import type { ScalingSignals } from "../../libs/scaling/index.js";
import type { FleetSource } from "./autoscaler.js";

export interface FleetReading {
  readonly signals: ScalingSignals;
  /** Registered, alive, not draining or cordoned, not being removed. */
  readonly readyWorkerIds: readonly string[];
  /** In-flight tasks per ready worker: scale-down removes the least busy. */
  readonly inFlightByWorker: ReadonlyMap<string, number>;
}

/** The coordinator's reads the signals need (FleetSource, in autoscaler.ts, is the whole of what the loop uses). */
export type SignalSource = Pick<FleetSource, "listWorkers" | "pendingCount" | "acceptedTotal">;

export function readFleet(options: {
  source: SignalSource;
  /** Workers the autoscaler is draining away: no longer capacity. */
  removing: ReadonlySet<string>;
  /** Arrivals counted at the previous reading, and when. */
  previous: { acceptedTotal: number; atMs: number } | undefined;
  nowMs: number;
  /** 0 = memory is not measured against anything. */
  memoryLimitBytes: number;
}): FleetReading {
  const workers = options.source.listWorkers(false);
  const ready = workers.filter(
    (w) =>
      w.state === WorkerState.ALIVE && !w.cordoned && !options.removing.has(w.spec?.workerId ?? ""),
  );
  const inFlightTasks = workers.reduce((sum, w) => sum + w.inFlight, 0);
  const totalSlots = ready.reduce((sum, w) => sum + (w.spec?.slots ?? 0), 0);
  const pendingTasks = options.source.pendingCount;
  const elapsedSec = options.previous ? (options.nowMs - options.previous.atMs) / 1000 : 0;
  const signals: ScalingSignals = {
    pendingTasks,
    inFlightTasks,
    ...(totalSlots > 0 ? { slotUtilization: (inFlightTasks + pendingTasks) / totalSlots } : {}),
    ...(ready.length > 0 ? { cpuUtilization: mean(ready.map((w) => w.cpuUtilization)) } : {}),
    ...(ready.length > 0 && options.memoryLimitBytes > 0
      ? {
          memoryUtilization:
            mean(ready.map((w) => Number(w.memoryRssBytes))) / options.memoryLimitBytes,
        }
      : {}),
    ...(options.previous && elapsedSec > 0
      ? {
          requestRatePerSec:
            (options.source.acceptedTotal - options.previous.acceptedTotal) / elapsedSec,
        }
      : {}),
  };
  return {
    signals,
    readyWorkerIds: ready.map((w) => w.spec?.workerId ?? ""),
    inFlightByWorker: new Map(ready.map((w) => [w.spec?.workerId ?? "", w.inFlight])),
  };
}

/** The signals as stored with each decision: snake_case names, measured ones only. */
export function signalsRecord(signals: ScalingSignals): Record<string, number> {
  const record: Record<string, number> = {
    pending_tasks: signals.pendingTasks,
    in_flight_tasks: signals.inFlightTasks,
  };
  if (signals.slotUtilization !== undefined) record.slot_utilization = signals.slotUtilization;
  if (signals.cpuUtilization !== undefined) record.cpu_utilization = signals.cpuUtilization;
  if (signals.memoryUtilization !== undefined)
    record.memory_utilization = signals.memoryUtilization;
  if (signals.requestRatePerSec !== undefined)
    record.request_rate_per_sec = signals.requestRatePerSec;
  return record;
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}
