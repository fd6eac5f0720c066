// A stored task as a flat row: the columns a store indexes, plus the task as
// protobuf bytes. Built when a task is saved, so the caller may keep mutating
// its `Task` while the row waits for the next group commit.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { TaskSchema, type TaskState } from "../contracts/index.js";
import { isFinal } from "./task-ledger.js";
import type { StoredTask } from "./task-store.js";

export interface TaskRow {
  readonly taskId: string;
  readonly sequence: number;
  readonly state: TaskState;
  readonly workerId: string;
  readonly priority: number;
  readonly createdAtMs: number | null;
  readonly updatedAtMs: number | null;
  /** Set only once the task is final (SUCCEEDED, DEAD_LETTERED, CANCELLED). */
  readonly finishedAtMs: number | null;
  readonly maxAttempts: number;
  /** The W3C trace context as a JSON object of strings. */
  readonly traceContext: string;
  /** `toBinary(TaskSchema, task)`: 64-bit fields stay exact, unlike JSON. */
  readonly task: Uint8Array;
}

export function toTaskRow(entry: StoredTask): TaskRow {
  const { task } = entry;
  const taskId = task.spec?.taskId ?? "";
  if (taskId === "") throw new Error("cannot store a task without spec.task_id");
  return {
    taskId,
    sequence: entry.sequence,
    state: task.state,
    workerId: task.workerId,
    priority: task.spec?.priority ?? 0,
    createdAtMs: msOrNull(task.createdAt),
    updatedAtMs: msOrNull(task.updatedAt),
    finishedAtMs: isFinal(task.state) ? msOrNull(task.finishedAt ?? task.updatedAt) : null,
    maxAttempts: entry.maxAttempts,
    traceContext: JSON.stringify(entry.traceContext),
    task: toBinary(TaskSchema, task),
  };
}

export function fromTaskRow(
  row: Pick<TaskRow, "sequence" | "maxAttempts" | "traceContext" | "task">,
): StoredTask {
  return {
    task: fromBinary(TaskSchema, row.task),
    maxAttempts: row.maxAttempts,
    traceContext: parseTraceContext(row.traceContext),
    sequence: row.sequence,
  };
}

function msOrNull(timestamp: Timestamp | undefined): number | null {
  return timestamp ? timestampMs(timestamp) : null;
}

function parseTraceContext(json: string): Record<string, string> {
  const parsed: unknown = JSON.parse(json);
  const out: Record<string, string> = {};
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return out;
  for (const [key, value] of Object.entries(parsed))
    if (typeof value === "string") out[key] = value;
  return out;
}
