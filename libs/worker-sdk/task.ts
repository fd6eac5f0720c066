// What a task looks like to a handler, and what a handler may give back.
import type { TaskSpec } from "../contracts/index.js";

export interface WorkerTask {
  readonly taskId: string;
  /** 1 for the first attempt; higher when the task was given back and placed again. */
  readonly attempt: number;
  readonly payload: Uint8Array;
  readonly spec: TaskSpec;
  /**
   * Aborts when the task times out, the coordinator cancels this attempt (the
   * reason is then a TaskCancelledError) or the worker stops. A handler should
   * stop its work and settle soon after; the worker has already reported the
   * task as failed by then.
   */
  readonly signal: AbortSignal;
}

/** A string is sent as UTF-8; nothing (undefined) is an empty output. */
export type TaskOutput = Uint8Array | string | void;

export type TaskHandler = (task: WorkerTask) => Promise<TaskOutput>;

/** How one attempt ended on this worker, as reported to the coordinator. */
export type TaskOutcome =
  | { readonly kind: "succeeded"; readonly output: Uint8Array; readonly durationMs: number }
  | { readonly kind: "failed"; readonly error: string; readonly durationMs: number }
  | { readonly kind: "timed_out"; readonly error: string; readonly durationMs: number }
  /** The coordinator cancelled this attempt while it ran (an operator, or its timeout there). */
  | { readonly kind: "cancelled"; readonly error: string; readonly durationMs: number }
  /** Answered at once without running: no free slot, or the worker is draining. */
  | { readonly kind: "rejected"; readonly error: string; readonly durationMs: number };

export type TaskOutcomeKind = TaskOutcome["kind"];

export const TASK_OUTCOME_KINDS: readonly TaskOutcomeKind[] = [
  "succeeded",
  "failed",
  "timed_out",
  "cancelled",
  "rejected",
];

/**
 * The abort reason of a task the coordinator cancelled, so executeTask (and a
 * handler that cares) can tell a cancellation from a timeout or a stop.
 */
export class TaskCancelledError extends Error {
  override readonly name = "TaskCancelledError";

  constructor(readonly reason: string) {
    super(`cancelled: ${reason || "by the coordinator"}`);
  }
}
