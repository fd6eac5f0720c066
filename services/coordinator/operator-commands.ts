// What operators do to tasks and workers (the Admin service's writes):
// cancel, retry a dead letter, purge finished tasks, drain, cordon. Each
// answers only once its transition is durable.
import { clone } from "@bufbuild/protobuf";
import {
  TaskSchema,
  TaskState,
  WorkerState,
  type Task,
  type WorkerStatus,
} from "../../libs/contracts/index.js";
import { isFinal, type TaskRecord } from "../../libs/ledger/index.js";
import {
  failedPrecondition,
  invalidArgument,
  notFound,
  resourceExhausted,
} from "../../libs/rpc/index.js";
import { committedOrRefuse } from "./commit-outbox.js";
import type { CoordinatorParts } from "./coordinator-parts.js";
import * as lifecycle from "./task-lifecycle.js";
import type { WorkerRecord } from "./worker-registry.js";

export interface OperatorCommands {
  cancelTask(taskId: string, reason: string): Promise<Task>;
  retryTask(taskId: string): Promise<Task>;
  /** Deletes final tasks that finished before the cutoff, from the store and then from the ledger; resolves to how many. */
  purgeFinishedBefore(cutoffMs: number): Promise<number>;
  drainWorker(workerId: string): WorkerStatus;
  setCordoned(workerId: string, isCordoned: boolean): WorkerStatus;
}

export function createOperatorCommands(parts: CoordinatorParts): OperatorCommands {
  const { ledger, workers, pending, logger, settings } = parts;

  const requireTask = (taskId: string): TaskRecord => {
    if (taskId === "") throw invalidArgument("task_id", "is required");
    const task = ledger.get(taskId);
    if (!task) throw notFound(`task ${taskId} does not exist`);
    return task;
  };

  const requireWorker = (workerId: string): WorkerRecord => {
    if (workerId === "") throw invalidArgument("worker_id", "is required");
    const record = workers.get(workerId);
    if (!record || record.state === WorkerState.DEAD)
      throw notFound(`worker ${workerId} is not registered`);
    return record;
  };

  return {
    async cancelTask(taskId, reason) {
      const task = requireTask(taskId);
      if (isFinal(task.task.state))
        throw failedPrecondition(`task ${taskId} is already ${TaskState[task.task.state]}`);
      parts.apply(lifecycle.cancel(parts.lifecycle(), task, reason || "cancelled by an operator"));
      const cancelled = clone(TaskSchema, task.task);
      await committedOrRefuse(parts.outbox);
      parts.requestSchedule();
      return cancelled;
    },

    async retryTask(taskId) {
      const task = requireTask(taskId);
      if (task.task.state !== TaskState.DEAD_LETTERED && task.task.state !== TaskState.CANCELLED) {
        throw failedPrecondition(
          `task ${taskId} is ${TaskState[task.task.state]}; only DEAD_LETTERED or CANCELLED tasks can be retried`,
        );
      }
      if (pending.isFull)
        throw resourceExhausted(
          `the pending queue is full (max_pending_tasks=${pending.limit}); retry later`,
        );
      parts.apply(
        lifecycle.retry(
          parts.lifecycle(),
          task,
          task.task.spec?.maxAttempts || settings.defaultMaxAttempts,
        ),
      );
      // The answer is what this command wrote: the scheduler may place the task
      // while the commit is awaited, and that is the next transition, not this one.
      const retried = clone(TaskSchema, task.task);
      await committedOrRefuse(parts.outbox);
      parts.requestSchedule();
      return retried;
    },

    async purgeFinishedBefore(cutoffMs) {
      // The store first: when it cannot, nothing is gone. A task that turns
      // final meanwhile finishes after the cutoff (which is in the past), and
      // one retried meanwhile is saved after the purge: both stay in both.
      const purged = await parts.store.purgeFinishedBefore(cutoffMs);
      ledger.purgeFinishedBefore(cutoffMs);
      return purged;
    },

    drainWorker(workerId) {
      const record = requireWorker(workerId);
      if (record.state === WorkerState.ALIVE || record.state === WorkerState.SUSPECT) {
        record.state = WorkerState.DRAINING;
        logger.info(
          { workerId, running: ledger.unfinishedCount(workerId) },
          "draining worker on request",
        );
      }
      workers.send(workerId, {
        message: { case: "drain", value: { reason: "drained by an operator" } },
      });
      parts.watch.changed(workerId);
      return workers.statusOf(record);
    },

    setCordoned(workerId, isCordoned) {
      const record = requireWorker(workerId);
      record.isCordoned = isCordoned;
      logger.info({ workerId, isCordoned }, isCordoned ? "worker cordoned" : "worker uncordoned");
      parts.watch.changed(workerId);
      if (!isCordoned) parts.requestSchedule();
      return workers.statusOf(record);
    },
  };
}
