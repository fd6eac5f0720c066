// Runs assignments within the worker's slots. Each task runs inside a
// `task.run` span whose parent is the trace the assignment carries, and its
// result carries that span's context back, so one trace covers the task from
// client to worker. Updates and results go out through `send`; where they
// end up (the session, or a buffer while disconnected) is the worker's call.
import { SpanStatusCode } from "@opentelemetry/api";
import { durationFromMs, durationMs } from "@bufbuild/protobuf/wkt";
import { create } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import { TaskSpecSchema, type Assignment } from "../contracts/index.js";
import { contextFrom, inSpan, traceContextOf } from "../telemetry/tracing.js";
import { executeTask } from "./execute-task.js";
import {
  runningUpdateMessage,
  taskResultMessage,
  type SessionRequest,
} from "./session-messages.js";
import { TaskCancelledError, type TaskHandler, type TaskOutcome } from "./task.js";

export const NO_FREE_SLOT = "no free slot";
export const WORKER_DRAINING = "worker is draining";

export interface TaskReport {
  readonly taskId: string;
  readonly attempt: number;
  readonly outcome: TaskOutcome;
}

export interface TaskRunnerOptions {
  readonly slots: number;
  readonly handler: TaskHandler;
  /** Used when the task's spec sets no timeout. */
  readonly defaultTimeoutMs: number;
  readonly maxOutputBytes?: number;
  readonly logger: Logger;
  readonly send: (message: SessionRequest) => void;
  readonly onTaskFinished?: (report: TaskReport) => void;
}

export interface TaskRunner {
  /** Starts the task, or answers at once with a failed result when it cannot. */
  accept(assignment: Assignment): void;
  runningTaskIds(): string[];
  readonly runningCount: number;
  readonly freeSlots: number;
  readonly isTakingTasks: boolean;
  /** From now on every assignment is refused; running tasks go on. */
  stopTakingTasks(): void;
  /** Resolves when no task runs. */
  whenIdle(): Promise<void>;
  /**
   * The coordinator's cancellation: aborts that attempt's signal, and it is
   * reported as failed with "cancelled: <reason>". False (and only a debug
   * log) when this worker does not run that attempt.
   */
  cancel(taskId: string, attempt: number, reason: string): boolean;
  /** Aborts every running task's signal; each is reported as failed. */
  abortAll(reason: string): void;
}

interface RunningTask {
  readonly attempt: number;
  /** Aborts this attempt alone (a cancellation) or with every other (stop). */
  readonly controller: AbortController;
}

export function createTaskRunner(options: TaskRunnerOptions): TaskRunner {
  const running = new Map<string, RunningTask>();
  const idleWaiters: Array<() => void> = [];
  let isTakingTasks = true;

  const finish = (report: TaskReport, traceContext: Record<string, string>): void => {
    const { taskId, attempt, outcome } = report;
    options.send(
      taskResultMessage({
        taskId,
        attempt,
        succeeded: outcome.kind === "succeeded",
        output: outcome.kind === "succeeded" ? outcome.output : new Uint8Array(0),
        error: outcome.kind === "succeeded" ? "" : outcome.error,
        // Whole milliseconds: a fraction would make non-integer nanos, which do not serialize.
        duration: durationFromMs(Math.round(outcome.durationMs)),
        traceContext,
      }),
    );
    options.onTaskFinished?.(report);
  };

  const refuse = (assignment: Assignment, reason: string): void => {
    options.logger.warn(
      { taskId: assignment.taskId, attempt: assignment.attempt, reason },
      "assignment refused",
    );
    const report = {
      taskId: assignment.taskId,
      attempt: assignment.attempt,
      outcome: { kind: "rejected", error: reason, durationMs: 0 },
    } as const;
    finish(report, traceContextOf(contextFrom(assignment.traceContext)));
  };

  const run = async (assignment: Assignment, signal: AbortSignal): Promise<void> => {
    const { taskId, attempt } = assignment;
    const spec = assignment.task ?? create(TaskSpecSchema, { taskId });
    const specTimeoutMs = spec.timeout ? durationMs(spec.timeout) : 0;
    const timeoutMs = specTimeoutMs > 0 ? specTimeoutMs : options.defaultTimeoutMs;
    let traceContext: Record<string, string> = {};
    const attributes = {
      "scalemesh.task_id": taskId,
      "scalemesh.attempt": attempt,
      "scalemesh.task_type": spec.taskType,
    };
    const outcome = await inSpan(
      "task.run",
      { parent: contextFrom(assignment.traceContext), attributes },
      async (span) => {
        traceContext = traceContextOf();
        options.send(runningUpdateMessage(taskId, attempt));
        options.logger.debug({ taskId, attempt, timeoutMs }, "task started");
        const result = await executeTask({
          handler: options.handler,
          task: { taskId, attempt, payload: spec.payload, spec },
          timeoutMs,
          signal,
          maxOutputBytes: options.maxOutputBytes,
        });
        if (result.kind !== "succeeded")
          span?.setStatus({ code: SpanStatusCode.ERROR, message: result.error });
        return result;
      },
    );
    // A success is routine (debug: at thousands a second, a log line each
    // would cost more than the task); a failure is worth an operator's eye.
    if (outcome.kind === "succeeded")
      options.logger.debug(
        {
          taskId,
          attempt,
          durationMs: Math.round(outcome.durationMs),
          outputBytes: outcome.output.byteLength,
        },
        "task succeeded",
      );
    else
      options.logger.warn(
        {
          taskId,
          attempt,
          durationMs: Math.round(outcome.durationMs),
          outcome: outcome.kind,
          error: outcome.error,
        },
        "task failed",
      );
    finish({ taskId, attempt, outcome }, traceContext);
  };

  const settle = (taskId: string): void => {
    running.delete(taskId);
    if (running.size > 0) return;
    for (const wake of idleWaiters.splice(0)) wake();
  };

  return {
    accept(assignment) {
      if (running.has(assignment.taskId)) {
        // The coordinator re-sent a task this worker still runs (it listed it
        // in running_task_ids after a reconnect): the running one will report.
        options.logger.warn(
          { taskId: assignment.taskId, attempt: assignment.attempt },
          "assignment for a task already running here; ignored",
        );
        return;
      }
      if (!isTakingTasks) return refuse(assignment, WORKER_DRAINING);
      if (running.size >= options.slots) return refuse(assignment, NO_FREE_SLOT);
      const controller = new AbortController();
      running.set(assignment.taskId, { attempt: assignment.attempt, controller });
      run(assignment, controller.signal)
        .catch((error: unknown) =>
          options.logger.error(
            { err: error, taskId: assignment.taskId },
            "task bookkeeping failed",
          ),
        )
        .finally(() => settle(assignment.taskId));
    },
    runningTaskIds: () => [...running.keys()],
    get runningCount() {
      return running.size;
    },
    get freeSlots() {
      return isTakingTasks ? Math.max(0, options.slots - running.size) : 0;
    },
    get isTakingTasks() {
      return isTakingTasks;
    },
    stopTakingTasks() {
      isTakingTasks = false;
    },
    whenIdle() {
      if (running.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    cancel(taskId, attempt, reason) {
      const task = running.get(taskId);
      if (!task || task.attempt !== attempt) {
        options.logger.debug(
          { taskId, attempt, runningAttempt: task?.attempt, reason },
          "cancellation for an attempt not running here; ignored",
        );
        return false;
      }
      options.logger.info({ taskId, attempt, reason }, "task cancelled by the coordinator");
      task.controller.abort(new TaskCancelledError(reason));
      return true;
    },
    abortAll(reason) {
      isTakingTasks = false;
      const stopping = new Error(reason);
      for (const task of running.values()) task.controller.abort(stopping);
    },
  };
}
