// Task latencies as the coordinator sees them, by task type and outcome:
// how long an attempt waited for a worker, how long it ran there, and how
// long a task took from submit to its final state. The type is the task's
// own task_type, kept to a bounded set (the first TASK_TYPE_LIMIT types
// seen; later ones are "other", an empty one "none"), so clients cannot
// grow the series without end; no task id is ever a label.
import { Histogram } from "prom-client";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { TaskState, type TaskSpec } from "../../libs/contracts/index.js";
import type { TaskRecord } from "../../libs/ledger/index.js";
import {
  createBoundedLabel,
  EMPTY_LABEL_VALUE,
  labelChildren,
  OTHER_LABEL_VALUE,
  registry,
} from "../../libs/telemetry/index.js";
import { ATTEMPT_OUTCOMES, type AttemptOutcome } from "./task-lifecycle.js";

export const TASK_TYPE_LIMIT = 20;

/** How a task ended. */
export const TASK_OUTCOMES = ["succeeded", "dead_lettered", "cancelled"] as const;
export type TaskOutcome = (typeof TASK_OUTCOMES)[number];

// From 5 ms to an hour: a queue wait is short when all is well, a task may run long.
const BUCKETS_SEC = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600,
];

const latencyHistogram = <L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[],
): Histogram<L> =>
  new Histogram({ name, help, labelNames, buckets: BUCKETS_SEC, registers: [registry] });

const queueWaitSeconds = latencyHistogram(
  "scalemesh_task_queue_wait_seconds",
  "Per attempt: from waiting for a worker (its retry backoff over) to placed on one, by task type.",
  ["type"],
);
const runSeconds = latencyHistogram(
  "scalemesh_task_run_seconds",
  "Per attempt: from placed on a worker to the attempt's end, by task type and how it ended.",
  ["type", "outcome"],
);
const submitToResultSeconds = latencyHistogram(
  "scalemesh_task_submit_to_result_seconds",
  "Per task: from accepted to its final state, by task type and outcome.",
  ["type", "outcome"],
);

/** Every series of a type exists from its first task, so a first increase shows in rate(). */
const zeroType = (type: string): void => {
  queueWaitSeconds.zero({ type });
  for (const outcome of ATTEMPT_OUTCOMES) runSeconds.zero({ type, outcome });
  for (const outcome of TASK_OUTCOMES) submitToResultSeconds.zero({ type, outcome });
};
const taskTypes = createBoundedLabel({ limit: TASK_TYPE_LIMIT, onAdmitted: zeroType });
zeroType(EMPTY_LABEL_VALUE);
zeroType(OTHER_LABEL_VALUE);

const queueWaitOf = labelChildren((type) => queueWaitSeconds.labels(type));
const runOf = labelChildren((type, outcome) => runSeconds.labels(type, outcome));
const submitToResultOf = labelChildren((type, outcome) =>
  submitToResultSeconds.labels(type, outcome),
);

const typeOf = (spec: TaskSpec | undefined): string => taskTypes.of(spec?.taskType ?? "");

const FINAL_OUTCOME: Partial<Record<TaskState, TaskOutcome>> = {
  [TaskState.SUCCEEDED]: "succeeded",
  [TaskState.DEAD_LETTERED]: "dead_lettered",
  [TaskState.CANCELLED]: "cancelled",
};

export const taskMetrics = {
  /** An attempt was placed on a worker after waiting `waitedMs`. */
  placed(spec: TaskSpec | undefined, waitedMs: number): void {
    queueWaitOf(typeOf(spec)).observe(Math.max(0, waitedMs) / 1000);
  },

  /** An attempt that ran `ranMs` on its worker ended. */
  attemptEnded(spec: TaskSpec | undefined, outcome: AttemptOutcome, ranMs: number): void {
    runOf(typeOf(spec), outcome).observe(Math.max(0, ranMs) / 1000);
  },

  /** The task reached a final state (the ledger's onFinal). */
  finished(record: TaskRecord): void {
    const outcome = FINAL_OUTCOME[record.task.state];
    const { createdAt, finishedAt } = record.task;
    if (!outcome || !createdAt || !finishedAt) return;
    submitToResultOf(typeOf(record.task.spec), outcome).observe(
      Math.max(0, timestampMs(finishedAt) - timestampMs(createdAt)) / 1000,
    );
  },
};
