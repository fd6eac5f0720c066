// The task lifecycle as transitions: each moves a task through the ledger's
// state machine and returns the effects to carry out (save it, queue it,
// tell a worker after the commit, count it), so the rules read in one place
// and the shell (coordinator.ts) is the only part that does I/O.
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { TaskState } from "../../libs/contracts/index.js";
import {
  backoffPolicyOf,
  retryDelayMs,
  type BackoffPolicy,
  type TaskLedger,
  type TaskRecord,
} from "../../libs/ledger/index.js";
import type { SessionMessage } from "./worker-registry.js";

/** How one attempt on a worker ended. */
export const ATTEMPT_OUTCOMES = ["succeeded", "failed", "timed_out", "lost", "cancelled"] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];
/** Why an attempt failed: its handler failed, it ran past its timeout, or its worker died or lost it. */
export type AttemptFailure = Extract<AttemptOutcome, "failed" | "timed_out" | "lost">;

export type Effect =
  /** Write the task's row; durable at the next group commit. */
  | { readonly kind: "save"; readonly task: TaskRecord }
  /** Back to the pending queue, not placed before `notBeforeMs`. */
  | { readonly kind: "queue"; readonly task: TaskRecord; readonly notBeforeMs: number }
  | { readonly kind: "unqueue"; readonly task: TaskRecord }
  /** Tell the worker, once the commit holding the transition succeeded. */
  | { readonly kind: "tell"; readonly workerId: string; readonly message: SessionMessage }
  /** The worker's slots or counters changed: the cluster watch shows it. */
  | { readonly kind: "changed"; readonly workerId: string }
  | { readonly kind: "retried"; readonly task: TaskRecord; readonly error: string }
  | { readonly kind: "dead_lettered"; readonly task: TaskRecord; readonly error: string }
  /** Placed on a worker after waiting `waitedMs` (counted). */
  | { readonly kind: "placed"; readonly task: TaskRecord; readonly waitedMs: number }
  /** An attempt that ran `ranMs` on its worker ended (counted). */
  | {
      readonly kind: "attempt_ended";
      readonly task: TaskRecord;
      readonly outcome: AttemptOutcome;
      readonly ranMs: number;
    };

export interface LifecycleContext {
  readonly ledger: TaskLedger;
  readonly nowMs: number;
  readonly random: () => number;
  readonly retryBackoff: BackoffPolicy;
}

const taskIdOf = (task: TaskRecord): string => task.task.spec?.taskId ?? "";

/** The attempt's end, counted, when it was on a worker (a task restored from the ledger has no start). */
function attemptEnded(ctx: LifecycleContext, task: TaskRecord, outcome: AttemptOutcome): Effect[] {
  const startedAtMs = task.startedAtMs;
  return startedAtMs === undefined
    ? []
    : [{ kind: "attempt_ended", task, outcome, ranMs: ctx.nowMs - startedAtMs }];
}

/**
 * A failed attempt: another attempt (after a backoff when the task itself
 * failed or timed out; at once when its worker died or lost it) or the dead letters.
 */
export function failAttempt(
  ctx: LifecycleContext,
  task: TaskRecord,
  error: string,
  options: { readonly cause: AttemptFailure },
): Effect[] {
  const workerId = task.task.workerId;
  const ended = attemptEnded(ctx, task, options.cause);
  const delayMs =
    options.cause === "lost"
      ? 0
      : retryDelayMs(
          task.task.attempt,
          backoffPolicyOf(task.task.spec, ctx.retryBackoff),
          ctx.random,
        );
  const next = ctx.ledger.fail(task, error, ctx.nowMs, ctx.nowMs + delayMs);
  const effects: Effect[] = [{ kind: "save", task }, ...ended];
  if (next === TaskState.PENDING)
    effects.push(
      { kind: "retried", task, error },
      { kind: "queue", task, notBeforeMs: ctx.nowMs + delayMs },
    );
  else effects.push({ kind: "dead_lettered", task, error });
  if (workerId) effects.push({ kind: "changed", workerId });
  return effects;
}

/** Past its timeout: cancelled on the worker and retried. */
export function timeOut(ctx: LifecycleContext, task: TaskRecord, timeoutMs: number): Effect[] {
  const { workerId, attempt } = task.task;
  const reason = `timed out after ${timeoutMs / 1000} s`;
  return [
    ...failAttempt(ctx, task, reason, { cause: "timed_out" }),
    {
      kind: "tell",
      workerId,
      message: {
        message: { case: "cancellation", value: { taskId: taskIdOf(task), attempt, reason } },
      },
    },
  ];
}

/** The worker says it started the attempt. */
export function markRunning(ctx: LifecycleContext, task: TaskRecord): Effect[] {
  if (task.task.state !== TaskState.ASSIGNED) return [];
  ctx.ledger.markRunning(task, ctx.nowMs);
  return [{ kind: "save", task }];
}

export function succeed(ctx: LifecycleContext, task: TaskRecord, output: Uint8Array): Effect[] {
  const workerId = task.task.workerId;
  const ended = attemptEnded(ctx, task, "succeeded");
  ctx.ledger.succeed(task, output, ctx.nowMs);
  return [{ kind: "save", task }, { kind: "changed", workerId }, ...ended];
}

/** Placed on `workerId` (a free slot there was checked by the caller); the assignment is sent by the caller after the commit. */
export function assign(ctx: LifecycleContext, task: TaskRecord, workerId: string): Effect[] {
  const waitedMs = ctx.nowMs - waitingSinceMs(task, ctx.nowMs);
  ctx.ledger.assign(task, workerId, ctx.nowMs);
  return [
    { kind: "unqueue", task },
    { kind: "save", task },
    { kind: "changed", workerId },
    { kind: "placed", task, waitedMs },
  ];
}

/** When a waiting task's wait for a worker began: its last move to PENDING, or the end of its retry backoff. */
function waitingSinceMs(task: TaskRecord, nowMs: number): number {
  const pendingSinceMs = task.task.updatedAt ? timestampMs(task.task.updatedAt) : nowMs;
  const notBeforeMs = task.task.notBefore ? timestampMs(task.task.notBefore) : 0;
  return Math.max(pendingSinceMs, notBeforeMs);
}

/** An assignment nobody was told of (its write failed): waiting again, same attempt. */
export function unassign(
  ctx: LifecycleContext,
  task: TaskRecord,
  workerId: string,
  attempt: number,
): Effect[] {
  if (
    task.task.state !== TaskState.ASSIGNED ||
    task.task.workerId !== workerId ||
    task.task.attempt !== attempt
  )
    return [];
  ctx.ledger.unassign(task, ctx.nowMs);
  return [
    { kind: "queue", task, notBeforeMs: 0 },
    { kind: "save", task },
    { kind: "changed", workerId },
  ];
}

export function cancel(ctx: LifecycleContext, task: TaskRecord, reason: string): Effect[] {
  const { workerId, attempt } = task.task;
  const wasOnWorker =
    task.task.state === TaskState.ASSIGNED || task.task.state === TaskState.RUNNING;
  const ended = wasOnWorker ? attemptEnded(ctx, task, "cancelled") : [];
  ctx.ledger.cancel(task, reason, ctx.nowMs);
  const effects: Effect[] = [{ kind: "unqueue", task }, { kind: "save", task }, ...ended];
  if (wasOnWorker)
    effects.push({
      kind: "tell",
      workerId,
      message: {
        message: { case: "cancellation", value: { taskId: taskIdOf(task), attempt, reason } },
      },
    });
  if (workerId) effects.push({ kind: "changed", workerId });
  return effects;
}

/** A dead-lettered or cancelled task gets `extraAttempts` more. */
export function retry(ctx: LifecycleContext, task: TaskRecord, extraAttempts: number): Effect[] {
  ctx.ledger.retry(task, extraAttempts, ctx.nowMs);
  return [
    { kind: "queue", task, notBeforeMs: 0 },
    { kind: "save", task },
  ];
}
