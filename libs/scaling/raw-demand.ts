// What the signals together ask for, before any window, limit or bound: the
// highest proposal, since the fleet must satisfy every signal at once (the
// HPA takes the max over its metrics too). A fleet with no ready workers is
// the special case: the ratio rule cannot grow it, so any task waiting or
// running wakes it (KEDA's activation), to enough workers for the queue.
import type { AutoscaleConfig, ScalingSignals, SignalProposal } from "./autoscale-types.js";
import { change, plural, type ScaleCandidate } from "./scale-candidate.js";
import { describeProposal, type Tolerances } from "./signal-proposals.js";

export interface RawDemandInput {
  readonly readyWorkers: number;
  readonly startingWorkers: number;
  readonly signals: ScalingSignals;
  readonly config: Pick<AutoscaleConfig, "minWorkers" | "up" | "down">;
  readonly proposals: readonly SignalProposal[];
}

export interface RawDemand extends ScaleCandidate {
  /** No workers at all and work to do: the wake skips the stabilization window (the queue cannot wait 5 minutes). */
  readonly isWaking: boolean;
}

export function rawDemandOf(input: RawDemandInput): RawDemand {
  const { readyWorkers, startingWorkers, signals } = input;
  const fleetWorkers = readyWorkers + startingWorkers;
  const hasWork = signals.pendingTasks > 0 || signals.inFlightTasks > 0;
  const highest = highestProposal(input.proposals);

  if (readyWorkers === 0) {
    if (hasWork) return wake(input, highest, fleetWorkers);
    const workers = highest?.workers ?? 0;
    const finding =
      startingWorkers > 0
        ? `no ready workers yet (${startingWorkers} starting) and no tasks`
        : "no workers and no tasks";
    return {
      workers,
      // An empty, idle fleet is at its minimum (min_workers above 0 is for the bounds to restore).
      reason: fleetWorkers === 0 && workers === 0 ? "AtMinimum" : reasonFor(workers, fleetWorkers),
      message: `${finding}: ${change(fleetWorkers, workers)}`,
      isWaking: false,
    };
  }

  const tolerances: Tolerances = input.config;
  if (!highest) {
    // No signal, no reason to move (the HPA keeps the count when it has no metrics).
    return {
      workers: readyWorkers,
      reason: reasonFor(readyWorkers, fleetWorkers),
      message: `no signal measured: ${fromReady(readyWorkers, readyWorkers)}`,
      isWaking: false,
    };
  }
  // Shrinking to zero is only ever an idle fleet's move: with work in hand, at least one worker.
  const workers = hasWork ? Math.max(1, highest.workers) : highest.workers;
  const among =
    input.proposals.length > 1 ? ` (the highest of ${input.proposals.length} signals)` : "";
  return {
    workers,
    reason: reasonFor(workers, fleetWorkers),
    message: `${describeProposal(highest, { readyWorkers, tolerances })}: ${fromReady(readyWorkers, workers)}${among}`,
    isWaking: false,
  };
}

function wake(
  input: RawDemandInput,
  highest: SignalProposal | undefined,
  fleetWorkers: number,
): RawDemand {
  const { signals, startingWorkers } = input;
  // The queue-based proposals (pending tasks, arrival rate) still count from zero; the utilization ones are 0 here.
  const workers = Math.max(1, input.config.minWorkers, highest?.workers ?? 0);
  const work = `${plural(signals.pendingTasks, "pending task")} and ${signals.inFlightTasks} in flight`;
  if (startingWorkers > 0) {
    return {
      workers,
      reason: "WaitingForNewWorkers",
      message: `no ready workers yet (${startingWorkers} starting) with ${work}: ${change(fleetWorkers, workers)}`,
      isWaking: false,
    };
  }
  const byQueue =
    highest && highest.workers === workers && workers > 1 ? ` for ${perWorkerTarget(highest)}` : "";
  return {
    workers,
    reason: "WakeFromZero",
    message: `no workers with ${work}: waking ${plural(workers, "worker")}${byQueue}`,
    isWaking: true,
  };
}

/** "4 ready workers → 7" or "keeping 4 ready workers": the ratio rule's "current" is the ready count. */
function fromReady(readyWorkers: number, workers: number): string {
  const ready = plural(readyWorkers, "ready worker");
  return workers === readyWorkers ? `keeping ${ready}` : `${ready} → ${workers}`;
}

function perWorkerTarget(proposal: SignalProposal): string {
  return proposal.signal === "requestRatePerWorkerPerSec"
    ? `${proposal.target}/s per worker`
    : `${proposal.target} pending per worker`;
}

function highestProposal(proposals: readonly SignalProposal[]): SignalProposal | undefined {
  let highest: SignalProposal | undefined;
  for (const proposal of proposals) {
    // Ties go to the earlier signal, so slot utilization explains the decision when it agrees.
    if (!highest || proposal.workers > highest.workers) highest = proposal;
  }
  return highest;
}

function reasonFor(
  workers: number,
  fleetWorkers: number,
): "ScaleUp" | "ScaleDown" | "WithinTolerance" {
  if (workers > fleetWorkers) return "ScaleUp";
  if (workers < fleetWorkers) return "ScaleDown";
  return "WithinTolerance";
}
