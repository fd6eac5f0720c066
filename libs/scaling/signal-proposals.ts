// What each signal alone asks for. Two rules, both the Kubernetes HPA's
// (replica_calculator.go):
// - utilization signals (slots, CPU, memory) use the ratio rule,
//   ceil(ready × value / target): the value is a per-worker mean, so the
//   fleet grows or shrinks in proportion;
// - total signals (arrival rate, pending tasks) use the AverageValue rule that
//   KEDA's queue scaling relies on, ceil(total / per-worker target): the total
//   does not shrink as workers are added, so the count follows from it alone.
// Either way a ratio inside 1 − down.tolerance … 1 + up.tolerance keeps the
// ready count: small wobbles are no reason to start or stop anything.
import type {
  DirectionBehavior,
  ScalingSignals,
  ScalingTargets,
  SignalProposal,
} from "./autoscale-types.js";
import { ceilCount, formatRatio } from "./scale-candidate.js";

type SignalName = keyof ScalingTargets;

interface SignalRule {
  readonly signal: SignalName;
  readonly kind: "utilization" | "total";
  readonly valueOf: (signals: ScalingSignals) => number | undefined;
  /** How the message names the measured value, e.g. "slot utilization 0.92". */
  readonly describeValue: (value: number, readyWorkers: number) => string;
  /** How the message names the target, e.g. "target 0.55" or "2 per worker". */
  readonly describeTarget: (target: number) => string;
}

/** In the order the message prefers on ties: slot utilization counts in-flight and queued work, so it leads. */
const SIGNAL_RULES: readonly SignalRule[] = [
  utilizationRule("slotUtilization", "slot utilization", (s) => s.slotUtilization),
  utilizationRule("cpuUtilization", "CPU utilization", (s) => s.cpuUtilization),
  utilizationRule("memoryUtilization", "memory utilization", (s) => s.memoryUtilization),
  {
    signal: "requestRatePerWorkerPerSec",
    kind: "total",
    valueOf: (s) => s.requestRatePerSec,
    describeValue: (value, ready) =>
      `request rate ${value.toFixed(1)}/s${perReadyWorker(value, ready, "/s")}`,
    describeTarget: (target) => `target ${target.toFixed(1)}/s per worker`,
  },
  {
    signal: "pendingTasksPerWorker",
    kind: "total",
    valueOf: (s) => s.pendingTasks,
    describeValue: (value, ready) => `pending tasks ${value}${perReadyWorker(value, ready, "")}`,
    describeTarget: (target) => `target ${target} per worker`,
  },
];

function perReadyWorker(value: number, readyWorkers: number, unit: string): string {
  return readyWorkers === 0
    ? " (no ready workers)"
    : ` (${(value / readyWorkers).toFixed(2)}${unit} per ready worker)`;
}

function utilizationRule(
  signal: SignalName,
  label: string,
  valueOf: (s: ScalingSignals) => number | undefined,
): SignalRule {
  return {
    signal,
    kind: "utilization",
    valueOf,
    describeValue: (value) => `${label} ${formatRatio(value)}`,
    describeTarget: (target) => `target ${formatRatio(target)}`,
  };
}

export interface Tolerances {
  readonly up: Pick<DirectionBehavior, "tolerance">;
  readonly down: Pick<DirectionBehavior, "tolerance">;
}

export interface ProposalInput {
  readonly signals: ScalingSignals;
  readonly targets: ScalingTargets;
  readonly readyWorkers: number;
  readonly tolerances: Tolerances;
}

type Position = "above" | "below" | "within";

/** One proposal per signal that has both a target and a usable measurement. */
export function proposeBySignal(input: ProposalInput): SignalProposal[] {
  const proposals: SignalProposal[] = [];
  for (const rule of SIGNAL_RULES) {
    const target = input.targets[rule.signal];
    const value = rule.valueOf(input.signals);
    // A missing, negative or non-finite figure (no slots to divide by) says nothing; neither does a target of 0.
    if (!isUsable(target) || target === 0 || !isUsable(value)) continue;
    const { workers } = assess(rule, value, target, input);
    proposals.push({ signal: rule.signal, value, target, workers });
  }
  return proposals;
}

/** "slot utilization 0.92 is above target 0.55 (tolerance 0.10)", for the proposal that decided. */
export function describeProposal(
  proposal: SignalProposal,
  input: Pick<ProposalInput, "readyWorkers" | "tolerances">,
): string {
  const rule = SIGNAL_RULES.find((r) => r.signal === proposal.signal);
  if (!rule) return `${proposal.signal} ${proposal.value} (target ${proposal.target})`;
  const { position } = assess(rule, proposal.value, proposal.target, input);
  const tolerance = describeTolerance(input.tolerances, position);
  const measured = rule.describeValue(proposal.value, input.readyWorkers);
  const target = rule.describeTarget(proposal.target);
  return position === "within"
    ? `${measured} is within ${target} (${tolerance})`
    : `${measured} is ${position} ${target} (${tolerance})`;
}

function assess(
  rule: SignalRule,
  value: number,
  target: number,
  input: Pick<ProposalInput, "readyWorkers" | "tolerances">,
): { workers: number; position: Position } {
  const ready = input.readyWorkers;
  if (ready === 0) {
    // The ratio rule cannot grow a fleet from nothing (0 × anything = 0); a total still can.
    if (rule.kind === "utilization")
      return { workers: 0, position: value > 0 ? "above" : "within" };
    return { workers: ceilCount(value / target), position: value > 0 ? "above" : "within" };
  }
  const ratio = rule.kind === "utilization" ? value / target : value / (target * ready);
  const position = positionOf(ratio, input.tolerances);
  if (position === "within") return { workers: ready, position };
  const workers =
    rule.kind === "utilization" ? ceilCount(ready * ratio) : ceilCount(value / target);
  return { workers, position };
}

function positionOf(ratio: number, tolerances: Tolerances): Position {
  // The same slack as the rounding: a ratio of exactly 1 + tolerance stays inside.
  if (ratio > 1 + tolerances.up.tolerance + 1e-9) return "above";
  if (ratio < 1 - tolerances.down.tolerance - 1e-9) return "below";
  return "within";
}

function describeTolerance(tolerances: Tolerances, position: Position): string {
  const up = formatRatio(tolerances.up.tolerance);
  const down = formatRatio(tolerances.down.tolerance);
  if (position === "above") return `tolerance ${up}`;
  if (position === "below") return `tolerance ${down}`;
  return up === down ? `tolerance ${up}` : `tolerance ${down} down, ${up} up`;
}

function isUsable(value: number | undefined): value is number {
  return value !== undefined && Number.isFinite(value) && value >= 0;
}
