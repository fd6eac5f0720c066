// What workers report about their tasks on the session: an attempt started,
// an attempt finished. Only the worker that owns the current attempt is
// heard; a stale result is acked and counted, never applied.
import { durationMs } from "@bufbuild/protobuf/wkt";
import { TaskState, type TaskResult, type TaskUpdate } from "../../libs/contracts/index.js";
import { isFinal, type TaskRecord } from "../../libs/ledger/index.js";
import type { CoordinatorParts } from "./coordinator-parts.js";
import { coordinatorCounters } from "./coordinator-metrics.js";
import { closeIfDrained } from "./membership.js";
import * as lifecycle from "./task-lifecycle.js";
import type { SessionMessage, WorkerSessionHandle } from "./worker-registry.js";

export interface WorkerReports {
  taskUpdated(session: WorkerSessionHandle, update: TaskUpdate): void;
  taskFinished(session: WorkerSessionHandle, result: TaskResult): void;
}

export function createWorkerReports(parts: CoordinatorParts): WorkerReports {
  const { ledger, workers, logger } = parts;

  /** The task, if it is unfinished and its current attempt belongs to this session's worker. */
  const ownedTask = (
    session: WorkerSessionHandle,
    taskId: string,
    attempt: number,
  ): TaskRecord | undefined => {
    const task = ledger.get(taskId);
    if (!task || isFinal(task.task.state) || !workers.current(session)) return undefined;
    return task.task.workerId === session.workerId &&
      task.task.attempt === attempt &&
      task.task.state !== TaskState.PENDING
      ? task
      : undefined;
  };

  return {
    taskUpdated(session, update) {
      const task = ownedTask(session, update.taskId, update.attempt);
      if (!task || update.state !== TaskState.RUNNING) return;
      parts.apply(lifecycle.markRunning(parts.lifecycle(), task));
    },

    taskFinished(session, result) {
      const record = workers.current(session);
      const task = ownedTask(session, result.taskId, result.attempt);
      const ack: SessionMessage = {
        message: { case: "resultAck", value: { taskId: result.taskId, attempt: result.attempt } },
      };
      if (!record || !task) {
        // Reassigned, cancelled or finished meanwhile: recorded as stale, never
        // counted. Acked all the same, so the worker stops re-sending it. Its
        // slot is free again.
        coordinatorCounters.staleResults.inc();
        if (record && record.staleRunning > 0) {
          record.staleRunning -= 1;
          parts.watch.changed(session.workerId);
        }
        logger.info(
          {
            workerId: session.workerId,
            taskId: result.taskId,
            attempt: result.attempt,
            succeeded: result.succeeded,
          },
          "stale result ignored: that attempt is no longer this worker's",
        );
        session.outbound.push(ack);
        return;
      }
      if (result.duration) {
        // EWMA with weight 0.2: recent results count most, one outlier does not swing it.
        const ms = durationMs(result.duration);
        record.taskLatencyEwmaMs =
          record.taskLatencyEwmaMs === 0 ? ms : 0.8 * record.taskLatencyEwmaMs + 0.2 * ms;
      }
      if (result.succeeded) {
        record.tasksSucceeded += 1n;
        parts.apply(lifecycle.succeed(parts.lifecycle(), task, result.output));
      } else {
        record.tasksFailed += 1n;
        parts.apply(
          lifecycle.failAttempt(
            parts.lifecycle(),
            task,
            result.error || "failed without a message",
            { cause: "failed" },
          ),
        );
      }
      parts.outbox.afterCommit(() => session.outbound.push(ack));
      parts.watch.changed(session.workerId);
      closeIfDrained(parts, record, { afterCommit: true });
      parts.requestSchedule();
    },
  };
}
