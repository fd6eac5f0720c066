// The count one stage of the autoscaling pipeline hands the next, with the
// reason and message so far. A stage that changes the count takes over the
// reason and appends what it did, so the decision ends with the reason of the
// last stage that moved the number and a message that tells the whole story.
import type { AutoscaleReason } from "./autoscale-types.js";

export interface ScaleCandidate {
  readonly workers: number;
  readonly reason: AutoscaleReason;
  readonly message: string;
}

/** `note` says what the stage did, with its figures: "limited to 6 by 2 workers per 60 s". */
export function adjustCandidate(
  candidate: ScaleCandidate,
  workers: number,
  reason: AutoscaleReason,
  note: string,
): ScaleCandidate {
  return { workers, reason, message: `${candidate.message}; ${note}` };
}

/** Floating-point slack for rounding: 0.55 × 4 / 0.55 is 4.000000000000001, which must not ask for a fifth worker. */
const EPSILON = 1e-9;

/** Counts are never negative (nor -0, which a ceil of -1e-9 would give). */
export function ceilCount(value: number): number {
  return Math.max(0, Math.ceil(value - EPSILON));
}

export function floorCount(value: number): number {
  return Math.max(0, Math.floor(value + EPSILON));
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

export function formatRatio(value: number): string {
  return value.toFixed(2);
}

export function formatSeconds(seconds: number): string {
  return String(Number(seconds.toFixed(1)));
}

/** "4 → 7 workers" or "keeping 4 workers". */
export function change(fromWorkers: number, toWorkers: number): string {
  return fromWorkers === toWorkers
    ? `keeping ${plural(fromWorkers, "worker")}`
    : `${fromWorkers} → ${plural(toWorkers, "worker")}`;
}
