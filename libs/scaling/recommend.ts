// How many workers the recent load calls for. The arithmetic is the
// Kubernetes HPA's ratio rule (replica_calculator.go: desired =
// ceil(current × utilization / target)) over mean slot utilization, with a
// band between two thresholds in place of one target and a tolerance: the
// fleet moves only when the mean leaves the band, and then aims for its middle.
// Pure: the clock comes in as `now`, and the answer explains itself.
import { slotUtilizationOf, type LoadRecord } from "./load-record.js";

export type RecommendationReason =
  "NoData" | "ScaleUp" | "ScaleDown" | "WithinThresholds" | "AtMinimum" | "AtMaximum";

/** The configured part of a recommendation (scaling.* and optimizer.window_sec). */
export interface ScalingPolicy {
  readonly windowSec: number;
  readonly minWorkers: number;
  readonly maxWorkers: number;
  /** Above this mean utilization the fleet grows. */
  readonly scaleUpThreshold: number;
  /** Below this it shrinks; must be lower than scaleUpThreshold (libs/config checks). */
  readonly scaleDownThreshold: number;
}

export interface RecommendationInput extends ScalingPolicy {
  /** In any order; those older than the window are ignored. */
  readonly samples: readonly LoadRecord[];
  /** Epoch ms. */
  readonly now: number;
}

export interface Recommendation {
  /** Workers in the newest sample. */
  readonly currentWorkers: number;
  readonly desiredWorkers: number;
  /** Mean slot utilization over the window; 0 when nothing could be measured. */
  readonly utilization: number;
  readonly reason: RecommendationReason;
  /** The same for a person, with the figures. */
  readonly message: string;
  /** Samples inside the window. */
  readonly samplesUsed: number;
}

/** What the load alone calls for, before min_workers and max_workers have their say. */
interface Proposal {
  readonly currentWorkers: number;
  readonly proposedWorkers: number;
  readonly utilization: number;
  readonly samplesUsed: number;
  readonly reason: "NoData" | "ScaleUp" | "ScaleDown" | "WithinThresholds";
  /** What was seen, e.g. "mean utilization 0.92 over 4 samples (60 s) is above scale_up_threshold 0.80". */
  readonly finding: string;
}

export function recommendWorkers(input: RecommendationInput): Recommendation {
  const windowStartMs = input.now - input.windowSec * 1000;
  // A sample stamped slightly ahead of our clock (skew with the coordinator) still counts.
  const recent = input.samples.filter((sample) => sample.observedAtMs >= windowStartMs);
  const latest = newestOf(recent);
  const proposal = latest ? proposeFromLoad(recent, latest, input) : proposeWithoutData(input);
  return applyBounds(proposal, input);
}

function proposeWithoutData(input: RecommendationInput): Proposal {
  const newest = newestOf(input.samples);
  const window = `${formatSeconds(input.windowSec)} s`;
  return {
    // The last count we heard of, however old: acting on no data should not look like an idle fleet.
    currentWorkers: newest?.workers ?? 0,
    proposedWorkers: newest?.workers ?? 0,
    utilization: 0,
    samplesUsed: 0,
    reason: "NoData",
    finding: newest
      ? `no load sample in the last ${window} (the newest is ${formatSeconds((input.now - newest.observedAtMs) / 1000)} s old)`
      : "no load samples received yet",
  };
}

function proposeFromLoad(
  recent: readonly LoadRecord[],
  latest: LoadRecord,
  input: RecommendationInput,
): Proposal {
  const current = latest.workers;
  // Samples without slots (no workers then) have no utilization and stay out of the mean.
  const utilizations = recent.map(slotUtilizationOf).filter((u): u is number => u !== undefined);
  const utilization =
    utilizations.length > 0 ? utilizations.reduce((sum, u) => sum + u, 0) / utilizations.length : 0;
  const base = { currentWorkers: current, utilization, samplesUsed: recent.length };

  if (current === 0) {
    // The ratio rule cannot grow a fleet from nothing (0 × anything = 0): one worker is where to start.
    return latest.pendingTasks > 0
      ? {
          ...base,
          proposedWorkers: 1,
          reason: "ScaleUp",
          finding: `no workers and ${plural(latest.pendingTasks, "pending task")}`,
        }
      : {
          ...base,
          proposedWorkers: 0,
          reason: "WithinThresholds",
          finding: "no workers and no pending tasks",
        };
  }
  if (utilizations.length === 0) {
    return {
      ...base,
      proposedWorkers: current,
      reason: "NoData",
      finding: `${plural(current, "worker")} but no slots reported in ${plural(recent.length, "sample")}`,
    };
  }

  const measured = `mean utilization ${formatRatio(utilization)} over ${plural(recent.length, "sample")} (${formatSeconds(input.windowSec)} s)`;
  if (utilization > input.scaleUpThreshold) {
    return {
      ...base,
      ...ratioRule("up", current, utilization, input),
      finding: `${measured} is above scale_up_threshold ${formatRatio(input.scaleUpThreshold)}`,
    };
  }
  if (utilization < input.scaleDownThreshold) {
    return {
      ...base,
      ...ratioRule("down", current, utilization, input),
      finding: `${measured} is below scale_down_threshold ${formatRatio(input.scaleDownThreshold)}`,
    };
  }
  return {
    ...base,
    proposedWorkers: current,
    reason: "WithinThresholds",
    finding: `${measured} is within scale_down_threshold ${formatRatio(input.scaleDownThreshold)} and scale_up_threshold ${formatRatio(input.scaleUpThreshold)}`,
  };
}

/**
 * The HPA ratio rule aimed at the middle of the band, so one step lands well
 * inside it instead of on the far threshold. Each step moves at least one
 * worker: a mean just past a threshold would otherwise round back to `current`.
 */
function ratioRule(
  direction: "up" | "down",
  current: number,
  utilization: number,
  input: RecommendationInput,
): Pick<Proposal, "proposedWorkers" | "reason"> {
  const target = (input.scaleUpThreshold + input.scaleDownThreshold) / 2;
  // Without the epsilon, float error (0.55 × 4 / 0.55 = 4.000000000000001) would add a worker.
  const byRatio = Math.ceil((current * utilization) / target - 1e-9);
  return direction === "up"
    ? { proposedWorkers: Math.max(current + 1, byRatio), reason: "ScaleUp" }
    : { proposedWorkers: Math.max(0, Math.min(current - 1, byRatio)), reason: "ScaleDown" };
}

function applyBounds(proposal: Proposal, input: RecommendationInput): Recommendation {
  const { currentWorkers, proposedWorkers } = proposal;
  const desiredWorkers = Math.min(input.maxWorkers, Math.max(input.minWorkers, proposedWorkers));
  const common = {
    currentWorkers,
    desiredWorkers,
    utilization: proposal.utilization,
    samplesUsed: proposal.samplesUsed,
  };
  if (desiredWorkers === proposedWorkers) {
    return {
      ...common,
      reason: proposal.reason,
      message: `${proposal.finding}: ${change(currentWorkers, desiredWorkers)}`,
    };
  }
  const bound =
    desiredWorkers < proposedWorkers
      ? ({ reason: "AtMaximum", key: "max_workers" } as const)
      : ({ reason: "AtMinimum", key: "min_workers" } as const);
  const calledFor =
    proposedWorkers !== currentWorkers ? ` and calls for ${plural(proposedWorkers, "worker")}` : "";
  return {
    ...common,
    // "No data" matters more to whoever acts on this than which bound applied.
    reason: proposal.reason === "NoData" ? "NoData" : bound.reason,
    message: `${proposal.finding}${calledFor}; held at ${bound.key} ${desiredWorkers}: ${change(currentWorkers, desiredWorkers)}`,
  };
}

function newestOf(samples: readonly LoadRecord[]): LoadRecord | undefined {
  let newest: LoadRecord | undefined;
  for (const sample of samples) {
    if (!newest || sample.observedAtMs >= newest.observedAtMs) newest = sample;
  }
  return newest;
}

function change(current: number, desired: number): string {
  return current === desired
    ? `keeping ${plural(current, "worker")}`
    : `${current} → ${plural(desired, "worker")}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function formatRatio(value: number): string {
  return value.toFixed(2);
}

function formatSeconds(seconds: number): string {
  return String(Number(seconds.toFixed(1)));
}
