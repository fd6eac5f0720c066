// Taking a task in (the Place commit) and sending it out. A placement is
// checked and reserved in one synchronous step (nothing else runs between
// the check and the write), answered only once durable, and undone if the
// write fails. The strategy hears of a placement only after its commit.
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { randomUUID } from "node:crypto";
import {
  placementRequestOf,
  type PlacementStack,
  type Ranking,
} from "../../libs/balancing/index.js";
import {
  PlaceResponseSchema,
  TaskSpecSchema,
  type PlaceResponse,
  type TaskSpec,
} from "../../libs/contracts/index.js";
import { isFinal, type TaskRecord } from "../../libs/ledger/index.js";
import { alreadyExists, resourceExhausted } from "../../libs/rpc/index.js";
import { admit, checkTarget, type FleetHooks } from "./admission.js";
import { committedOrRefuse, refuseUnwritable } from "./commit-outbox.js";
import { saveTask, type CoordinatorParts } from "./coordinator-parts.js";
import * as lifecycle from "./task-lifecycle.js";
import { taskMetrics } from "./task-metrics.js";

export interface TaskIntake {
  /**
   * Records a new task on `workerId` if that worker still exists, takes tasks
   * and has a free slot. Without a worker, places it on the best worker with
   * room, or queues it (saying why when it waits for the fleet).
   */
  place(
    spec: TaskSpec,
    workerId: string,
    traceContext: Record<string, string>,
  ): Promise<PlaceResponse>;
  /** A waiting task placed by the scheduler: told to the worker (and the strategy) after the commit, back to waiting if the write fails. */
  dispatch(task: TaskRecord, ranking: Ranking, workerId: string): void;
}

export interface TaskIntakeOptions {
  readonly stack: PlacementStack;
  readonly fleet: () => FleetHooks | undefined;
  /** Told of every task accepted (for the rates). */
  readonly onAccepted: () => void;
}

export function createTaskIntake(parts: CoordinatorParts, options: TaskIntakeOptions): TaskIntake {
  const { ledger, workers, pending, outbox, watch, settings, store } = parts;

  /** Pushes an assignment down the worker's session, if the task is still that attempt on that worker. */
  const sendAssignment = (task: TaskRecord, workerId: string, attempt: number): void => {
    const spec = task.task.spec;
    if (
      !spec ||
      task.task.workerId !== workerId ||
      task.task.attempt !== attempt ||
      isFinal(task.task.state)
    )
      return;
    parts.logger.debug({ taskId: spec.taskId, workerId, attempt }, "task assigned");
    const effective = spec.timeout
      ? spec
      : create(TaskSpecSchema, { ...spec, timeout: durationFromMs(settings.defaultTaskTimeoutMs) });
    workers.send(workerId, {
      message: {
        case: "assignment",
        value: { taskId: spec.taskId, attempt, task: effective, traceContext: task.traceContext },
      },
    });
  };

  const response = (task: TaskRecord, existing: boolean, reason: string): PlaceResponse => {
    const worker = task.task.workerId ? workers.get(task.task.workerId) : undefined;
    return create(PlaceResponseSchema, {
      task: task.task,
      workerAddress: worker?.spec.address ?? "",
      existing,
      reason,
    });
  };

  return {
    async place(input, workerId, traceContext) {
      const spec =
        input.taskId === "" ? create(TaskSpecSchema, { ...input, taskId: randomUUID() }) : input;
      const existing = ledger.get(spec.taskId);
      if (existing) {
        const outcome = ledger.create(spec, { maxAttempts: 0, traceContext, nowMs: parts.now() });
        if (outcome.kind === "conflict")
          throw alreadyExists(
            `task ${spec.taskId} exists with different content; use a new task_id`,
          );
        await committedOrRefuse(outbox);
        return response(existing, true, "");
      }
      const request = placementRequestOf(spec);
      let waitReason: string | undefined;
      let ranking: Ranking | undefined;
      // The balancer's choice is checked alone; only the coordinator's own choice looks at every worker.
      if (workerId !== "") checkTarget(workers.candidate(workerId), workerId, request);
      else {
        const candidates = workers.candidates();
        waitReason = admit(candidates, request, options.fleet());
        if (waitReason === undefined) ranking = options.stack.rank(candidates, request);
      }
      const target = workerId !== "" ? workerId : ranking?.ranked[0]?.worker.workerId;
      if (target === undefined && pending.isFull) {
        throw resourceExhausted(
          `no worker has a free slot and the pending queue is full (max_pending_tasks=${pending.limit}); retry later`,
        );
      }
      const { record } = ledger.create(spec, {
        maxAttempts: spec.maxAttempts || settings.defaultMaxAttempts,
        traceContext,
        nowMs: parts.now(),
      });
      if (target !== undefined) ledger.assign(record, target, parts.now());
      else {
        pending.add(record);
        options.fleet()?.onQueued();
      }
      saveTask(store, record);
      if (target !== undefined) watch.changed(target);
      try {
        await outbox.committed();
      } catch (error) {
        // Nobody was told: undo the reservation as if the call never came.
        pending.remove(record);
        ledger.forget(record);
        store.remove(spec.taskId);
        if (target !== undefined) watch.changed(target);
        refuseUnwritable(error);
      }
      options.onAccepted();
      if (target !== undefined) {
        taskMetrics.placed(spec, 0);
        if (ranking) options.stack.commit(ranking, target);
        sendAssignment(record, target, record.task.attempt);
      }
      return response(record, false, waitReason ?? "");
    },

    dispatch(task, ranking, workerId) {
      parts.apply(lifecycle.assign(parts.lifecycle(), task, workerId));
      const attempt = task.task.attempt;
      outbox.afterCommit(
        () => {
          options.stack.commit(ranking, workerId);
          sendAssignment(task, workerId, attempt);
        },
        () => parts.apply(lifecycle.unassign(parts.lifecycle(), task, workerId, attempt)),
      );
    },
  };
}
