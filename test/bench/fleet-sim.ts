// The fleet the scaling benches simulate, whichever autoscaler drives it: a
// fluid queue with a fixed tick. Tasks arrive at λ(t) per second, each holds
// a slot for taskSec, a worker has slotsPerWorker slots and is ready
// workerStartSec after it is asked for. Each tick a ready fleet serves up to
// ready·k/S tasks per second; the rest waits, and the queue wait is
// queue / capacity. Starting workers are paid for (a booting machine is
// billed); a removed worker stops at once (tasks are seconds long; the busy
// tasks of a removed worker are not modelled). Every autoscaler sees the same
// arrivals (common random numbers), so the differences are the autoscalers'.
import type { Trace } from "./scaling-traces.js";

export interface FleetModel {
  readonly slotsPerWorker: number;
  readonly taskSec: number;
  readonly workerStartSec: number;
  /** A queue wait above this breaks the SLO. */
  readonly sloWaitSec: number;
}

export const DEFAULT_MODEL: FleetModel = {
  slotsPerWorker: 4,
  taskSec: 2,
  workerStartSec: 60,
  sloWaitSec: 2,
};

/** The length of the window "changes of direction" are counted per (the HPA's and scalemesh's scale-down window). */
export const DIRECTION_WINDOW_SEC = 300;
const EMPTY = 1e-9;

/** What an autoscaler can see of the fleet at a tick. */
export interface FleetView {
  readonly tSec: number;
  readonly readyWorkers: number;
  readonly startingWorkers: number;
  /** When each ready worker became ready, oldest first. */
  readonly readySinceSec: readonly number[];
  readonly startsCompleted: number;
  /** Tasks waiting for a slot. */
  readonly queue: number;
  /** Slots busy over the last tick. */
  readonly busy: number;
  readonly arrivedTasks: number;
  readonly servedTasks: number;
}

export interface FleetCommand {
  /** The count to converge on: start the difference, or stop starting workers first, then the newest ready ones. */
  readonly desiredWorkers: number;
  /** A scale-up the forecast settled. */
  readonly isPredictive?: boolean;
  /** A demand forecast made now, to be scored against the demand when it comes due. */
  readonly forecast?: { readonly atSec: number; readonly value: number };
}

export interface FleetController {
  /** Before the tick's arrivals are served: a command, or nothing to leave the fleet as it is. */
  decide(view: FleetView): FleetCommand | undefined;
  /** After the tick is served (a metrics pipeline samples here). */
  observeServed?(view: FleetView, tickSec: number): void;
}

export interface FleetOutcome {
  readonly sloViolationMin: number;
  readonly workerHours: number;
  /** Ready workers only (a real mesh lists those), in the measured part. */
  readonly readyWorkerHours: number;
  readonly maxWaitSec: number;
  readonly scaleUps: number;
  readonly predictiveScaleUps: number;
  /** A scale action in the other direction from the one before it, in the measured part. */
  readonly directionChanges: number;
  readonly directionChangesPerWindow: number;
  /** From the trace's rise to enough ready capacity for its new rate; undefined without a rise, Infinity if never. */
  readonly timeToEnoughSec?: number;
  readonly mape?: number;
  readonly forecastsScored: number;
  readonly peakWorkers: number;
  readonly peakReadyWorkers: number;
  readonly finalWorkers: number;
  readonly arrivedTasks: number;
  readonly servedTasks: number;
  readonly queuedTasks: number;
}

export function runFleet(options: {
  readonly trace: Trace;
  readonly model: FleetModel;
  readonly initialWorkers: number;
  readonly controller: FleetController;
}): FleetOutcome {
  const { trace, model, controller } = options;
  const { slotsPerWorker: k, taskSec, workerStartSec } = model;
  const dt = trace.tickSec;
  const openingRate = openingRateOf(trace);
  let readySinceSec: number[] = Array.from({ length: options.initialWorkers }, () => -Infinity);
  /** When each starting worker is ready, oldest first. */
  let starting: number[] = [];
  let queue = 0;
  // The run starts in the steady state of its first rate, as if the fleet had been serving it.
  let busy = Math.min(readySinceSec.length * k, openingRate * taskSec);
  let startsCompleted = 0;
  let lastDirection = 0;
  let timeToEnoughSec: number | undefined = trace.rise ? Infinity : undefined;
  const totals = {
    arrived: 0,
    served: 0,
    violationSec: 0,
    workerSec: 0,
    readyWorkerSec: 0,
    maxWaitSec: 0,
    scaleUps: 0,
    predictiveScaleUps: 0,
    directionChanges: 0,
    peakWorkers: 0,
    peakReadyWorkers: 0,
  };
  const demandByTick = new Float64Array(trace.ratesPerSec.length);
  const forecasts: { atSec: number; value: number }[] = [];
  const view = (t: number): FleetView => ({
    tSec: t,
    readyWorkers: readySinceSec.length,
    startingWorkers: starting.length,
    readySinceSec,
    startsCompleted,
    queue,
    busy,
    arrivedTasks: totals.arrived,
    servedTasks: totals.served,
  });

  for (let i = 0; i < trace.ratesPerSec.length; i += 1) {
    const t = i * dt;
    const isMeasured = t >= trace.measureFromSec;
    while (starting.length > 0 && (starting[0] as number) <= t) {
      readySinceSec = [...readySinceSec, starting[0] as number];
      starting = starting.slice(1);
      startsCompleted += 1;
    }
    demandByTick[i] = busy + queue;

    const command = controller.decide(view(t));
    if (command?.forecast) forecasts.push(command.forecast);
    const have = readySinceSec.length + starting.length;
    if (command && command.desiredWorkers !== have) {
      const direction = Math.sign(command.desiredWorkers - have);
      if (isMeasured && lastDirection !== 0 && direction !== lastDirection)
        totals.directionChanges += 1;
      lastDirection = direction;
      if (direction > 0) {
        starting = [
          ...starting,
          ...Array.from({ length: command.desiredWorkers - have }, () => t + workerStartSec),
        ];
        totals.scaleUps += 1;
        if (command.isPredictive) totals.predictiveScaleUps += 1;
      } else {
        const excess = have - command.desiredWorkers;
        const cut = Math.min(excess, starting.length);
        starting = starting.slice(cut);
        readySinceSec = readySinceSec.slice(0, readySinceSec.length - (excess - cut));
      }
    }

    const ready = readySinceSec.length;
    const arrivals = (trace.ratesPerSec[i] as number) * dt;
    const capacityPerSec = (ready * k) / taskSec;
    const served = Math.min(capacityPerSec * dt, queue + arrivals);
    queue = Math.max(0, queue + arrivals - served);
    busy = Math.min(ready * k, (served * taskSec) / dt);
    totals.arrived += arrivals;
    totals.served += served;
    controller.observeServed?.(view(t), dt);
    if (trace.rise && timeToEnoughSec === Infinity && t >= trace.rise.atSec)
      if (capacityPerSec >= trace.rise.ratePerSec) timeToEnoughSec = t - trace.rise.atSec;
    if (!isMeasured) continue;
    const waitSec = queue <= EMPTY ? 0 : capacityPerSec > 0 ? queue / capacityPerSec : Infinity;
    if (waitSec > model.sloWaitSec) totals.violationSec += dt;
    totals.maxWaitSec = Math.max(totals.maxWaitSec, waitSec);
    totals.workerSec += (ready + starting.length) * dt;
    totals.readyWorkerSec += ready * dt;
    totals.peakReadyWorkers = Math.max(totals.peakReadyWorkers, ready);
    totals.peakWorkers = Math.max(totals.peakWorkers, ready + starting.length);
  }

  const measuredSec = trace.ratesPerSec.length * dt - trace.measureFromSec;
  const scored = scoreForecasts(forecasts, demandByTick, trace);
  return {
    sloViolationMin: totals.violationSec / 60,
    workerHours: totals.workerSec / 3600,
    readyWorkerHours: totals.readyWorkerSec / 3600,
    maxWaitSec: totals.maxWaitSec,
    scaleUps: totals.scaleUps,
    predictiveScaleUps: totals.predictiveScaleUps,
    directionChanges: totals.directionChanges,
    directionChangesPerWindow: totals.directionChanges / (measuredSec / DIRECTION_WINDOW_SEC),
    ...(timeToEnoughSec !== undefined ? { timeToEnoughSec } : {}),
    ...(scored.mape !== undefined ? { mape: scored.mape } : {}),
    forecastsScored: scored.count,
    peakWorkers: totals.peakWorkers,
    peakReadyWorkers: totals.peakReadyWorkers,
    finalWorkers: readySinceSec.length + starting.length,
    arrivedTasks: totals.arrived,
    servedTasks: totals.served,
    queuedTasks: queue,
  };
}

/** The first minute's mean rate (a tenth of a short trace's): a single noisy tick would start the run off balance. */
export function openingRateOf(trace: Trace): number {
  const windowSec = Math.min(60, (trace.ratesPerSec.length * trace.tickSec) / 10);
  const first = trace.ratesPerSec.slice(0, Math.max(1, Math.round(windowSec / trace.tickSec)));
  return first.length === 0 ? 0 : first.reduce((sum, v) => sum + v, 0) / first.length;
}

/** Each forecast against the demand (busy + pending slots) at the tick it was for; those due after the run or before the measured part are left out. */
function scoreForecasts(
  forecasts: readonly { atSec: number; value: number }[],
  demandByTick: Float64Array,
  trace: Trace,
): { mape?: number; count: number } {
  let total = 0;
  let count = 0;
  for (const forecast of forecasts) {
    const index = Math.round(forecast.atSec / trace.tickSec);
    if (forecast.atSec < trace.measureFromSec || index >= demandByTick.length) continue;
    const actual = demandByTick[index] as number;
    if (actual <= EMPTY) continue;
    total += Math.abs(actual - forecast.value) / actual;
    count += 1;
  }
  return count > 0 ? { mape: total / count, count } : { count };
}
