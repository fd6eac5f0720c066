// The task ledger: every task and every transition of its state. In memory for
// now (the durable store is the next step); the state machine lives here so
// that a store can be swapped in under it without touching the rules.
//
// PENDING -> ASSIGNED -> RUNNING -> SUCCEEDED
//                              \-> FAILED -> PENDING (attempt+1) | DEAD_LETTERED
// and CANCELLED. Final: SUCCEEDED, DEAD_LETTERED, CANCELLED.
import { create, equals, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import {
  AttemptRecordSchema,
  TaskSchema,
  TaskSpecSchema,
  TaskState,
  type AttemptRecord,
  type Task,
  type TaskSpec,
} from "../contracts/index.js";

export const FINAL_STATES: ReadonlySet<TaskState> = new Set([
  TaskState.SUCCEEDED,
  TaskState.DEAD_LETTERED,
  TaskState.CANCELLED,
]);

export function isFinal(state: TaskState): boolean {
  return FINAL_STATES.has(state);
}

export interface TaskRecord {
  readonly task: Task;
  /** The attempt number after which the task is dead-lettered (raised by RetryTask). */
  maxAttempts: number;
  /** W3C trace context of the Assign that created it, carried to workers. */
  readonly traceContext: Record<string, string>;
  /** Order of arrival, for age ordering and stable paging. */
  readonly sequence: number;
  startedAtMs: number | undefined;
}

export type CreateOutcome =
  | { readonly kind: "created"; readonly record: TaskRecord }
  | { readonly kind: "existing"; readonly record: TaskRecord }
  | { readonly kind: "conflict"; readonly record: TaskRecord };

export interface ListFilter {
  readonly state?: TaskState;
  readonly workerId?: string;
  readonly afterSequence?: number;
  readonly createdBeforeMs?: number;
  readonly createdAfterMs?: number;
  readonly limit: number;
}

/** What a store gives back on start: enough to rebuild a record. */
export interface RestoredTask {
  readonly task: Task;
  readonly maxAttempts: number;
  readonly traceContext: Readonly<Record<string, string>>;
  readonly sequence: number;
}

export type FinalListener = (record: TaskRecord) => void;

export interface TaskLedger {
  get(taskId: string): TaskRecord | undefined;
  /** Records a new task, or finds the one with the same id (idempotent when the content matches). */
  create(
    spec: TaskSpec,
    options: { maxAttempts: number; traceContext: Record<string, string>; nowMs: number },
  ): CreateOutcome;
  assign(record: TaskRecord, workerId: string, nowMs: number): void;
  markRunning(record: TaskRecord, nowMs: number): void;
  succeed(record: TaskRecord, output: Uint8Array, nowMs: number): void;
  /**
   * Records a failed attempt; returns the state it went to: PENDING for a
   * retry (not placed before `notBeforeMs`), or DEAD_LETTERED.
   */
  fail(record: TaskRecord, error: string, nowMs: number, notBeforeMs?: number): TaskState;
  /** Takes back an assignment nobody was told of (its write failed): ASSIGNED -> PENDING, same attempt. */
  unassign(record: TaskRecord, nowMs: number): void;
  cancel(record: TaskRecord, reason: string, nowMs: number): void;
  /** A final task runs again with a fresh set of attempts (attempt numbers keep counting up). */
  retry(record: TaskRecord, extraAttempts: number, nowMs: number): void;
  /** Drops a task nobody was told of (its write failed). */
  forget(record: TaskRecord): void;
  /** Puts a task read from the store back, as it was. */
  restore(entry: RestoredTask): TaskRecord;
  /** Deletes final tasks that finished before `cutoffMs`; returns how many. */
  purgeFinishedBefore(cutoffMs: number): number;
  /** Tasks placed on a worker and not finished. */
  unfinishedOn(workerId: string): TaskRecord[];
  /** How many tasks are placed on a worker and not finished (its in-flight load). */
  unfinishedCount(workerId: string): number;
  list(filter: ListFilter): TaskRecord[];
  countsByState(): Map<TaskState, number>;
  /** Called once per task when it reaches a final state. */
  onFinal(listener: FinalListener): () => void;
  readonly size: number;
}

export function createMemoryLedger(): TaskLedger {
  const tasks = new Map<string, TaskRecord>();
  const byWorker = new Map<string, Set<TaskRecord>>();
  const counts = new Map<TaskState, number>();
  const listeners = new Set<FinalListener>();
  let sequence = 0;

  const setState = (record: TaskRecord, state: TaskState, nowMs: number): void => {
    const previous = record.task.state;
    counts.set(previous, (counts.get(previous) ?? 1) - 1);
    counts.set(state, (counts.get(state) ?? 0) + 1);
    record.task.state = state;
    record.task.updatedAt = ts(nowMs);
    if (isFinal(state)) {
      record.task.finishedAt = ts(nowMs);
      detach(record);
      for (const listener of listeners) listener(record);
    }
  };
  const detach = (record: TaskRecord): void => {
    const set = byWorker.get(record.task.workerId);
    set?.delete(record);
    if (set && set.size === 0) byWorker.delete(record.task.workerId);
  };
  const attempt = (record: TaskRecord, error: string, nowMs: number): AttemptRecord =>
    create(AttemptRecordSchema, {
      attempt: record.task.attempt,
      workerId: record.task.workerId,
      error,
      startedAt: record.startedAtMs === undefined ? undefined : ts(record.startedAtMs),
      endedAt: ts(nowMs),
    });

  return {
    get: (taskId) => tasks.get(taskId),
    create(spec, options) {
      const existing = tasks.get(spec.taskId);
      if (existing) {
        return equals(TaskSpecSchema, existing.task.spec ?? create(TaskSpecSchema), spec)
          ? { kind: "existing", record: existing }
          : { kind: "conflict", record: existing };
      }
      const init: MessageInitShape<typeof TaskSchema> = {
        spec,
        state: TaskState.PENDING,
        attempt: 1,
        createdAt: ts(options.nowMs),
        updatedAt: ts(options.nowMs),
      };
      sequence += 1;
      const record: TaskRecord = {
        task: create(TaskSchema, init),
        maxAttempts: options.maxAttempts,
        traceContext: options.traceContext,
        sequence,
        startedAtMs: undefined,
      };
      tasks.set(spec.taskId, record);
      counts.set(TaskState.PENDING, (counts.get(TaskState.PENDING) ?? 0) + 1);
      return { kind: "created", record };
    },
    assign(record, workerId, nowMs) {
      detach(record);
      record.task.workerId = workerId;
      record.task.notBefore = undefined;
      record.startedAtMs = nowMs;
      let set = byWorker.get(workerId);
      if (!set) byWorker.set(workerId, (set = new Set()));
      set.add(record);
      setState(record, TaskState.ASSIGNED, nowMs);
    },
    markRunning(record, nowMs) {
      setState(record, TaskState.RUNNING, nowMs);
    },
    succeed(record, output, nowMs) {
      record.task.output = output;
      record.task.error = "";
      setState(record, TaskState.SUCCEEDED, nowMs);
    },
    fail(record, error, nowMs, notBeforeMs) {
      record.task.history.push(attempt(record, error, nowMs));
      record.task.error = error;
      setState(record, TaskState.FAILED, nowMs);
      detach(record);
      if (record.task.attempt >= record.maxAttempts) {
        setState(record, TaskState.DEAD_LETTERED, nowMs);
        return TaskState.DEAD_LETTERED;
      }
      record.task.attempt += 1;
      record.startedAtMs = undefined;
      record.task.notBefore =
        notBeforeMs !== undefined && notBeforeMs > nowMs ? ts(notBeforeMs) : undefined;
      setState(record, TaskState.PENDING, nowMs);
      return TaskState.PENDING;
    },
    unassign(record, nowMs) {
      detach(record);
      record.task.workerId = "";
      record.startedAtMs = undefined;
      setState(record, TaskState.PENDING, nowMs);
    },
    cancel(record, reason, nowMs) {
      if (record.task.state === TaskState.ASSIGNED || record.task.state === TaskState.RUNNING) {
        record.task.history.push(attempt(record, `cancelled: ${reason}`, nowMs));
      }
      record.task.error = `cancelled: ${reason}`;
      record.task.notBefore = undefined;
      setState(record, TaskState.CANCELLED, nowMs);
    },
    retry(record, extraAttempts, nowMs) {
      record.task.attempt += 1;
      record.maxAttempts = record.task.attempt + extraAttempts - 1;
      record.task.workerId = "";
      record.task.output = new Uint8Array(0);
      record.task.finishedAt = undefined;
      record.task.notBefore = undefined;
      record.startedAtMs = undefined;
      setState(record, TaskState.PENDING, nowMs);
    },
    forget(record) {
      const id = record.task.spec?.taskId ?? "";
      if (tasks.get(id) !== record) return;
      detach(record);
      tasks.delete(id);
      counts.set(record.task.state, (counts.get(record.task.state) ?? 1) - 1);
    },
    restore(entry) {
      const record: TaskRecord = {
        task: entry.task,
        maxAttempts: entry.maxAttempts,
        traceContext: { ...entry.traceContext },
        sequence: entry.sequence,
        startedAtMs: undefined,
      };
      tasks.set(entry.task.spec?.taskId ?? "", record);
      sequence = Math.max(sequence, entry.sequence);
      counts.set(entry.task.state, (counts.get(entry.task.state) ?? 0) + 1);
      const state = entry.task.state;
      if ((state === TaskState.ASSIGNED || state === TaskState.RUNNING) && entry.task.workerId) {
        let set = byWorker.get(entry.task.workerId);
        if (!set) byWorker.set(entry.task.workerId, (set = new Set()));
        set.add(record);
      }
      return record;
    },
    purgeFinishedBefore(cutoffMs) {
      let purged = 0;
      for (const [id, record] of tasks) {
        const finished = record.task.finishedAt;
        if (!isFinal(record.task.state) || !finished || timestampMs(finished) >= cutoffMs) continue;
        tasks.delete(id);
        counts.set(record.task.state, (counts.get(record.task.state) ?? 1) - 1);
        purged += 1;
      }
      return purged;
    },
    unfinishedOn: (workerId) => [...(byWorker.get(workerId) ?? [])],
    unfinishedCount: (workerId) => byWorker.get(workerId)?.size ?? 0,
    list(filter) {
      const out: TaskRecord[] = [];
      for (const record of tasks.values()) {
        if (filter.afterSequence !== undefined && record.sequence <= filter.afterSequence) continue;
        if (
          filter.state !== undefined &&
          filter.state !== TaskState.UNSPECIFIED &&
          record.task.state !== filter.state
        )
          continue;
        if (filter.workerId && record.task.workerId !== filter.workerId) continue;
        const createdMs = record.task.createdAt ? timestampMs(record.task.createdAt) : 0;
        if (filter.createdBeforeMs !== undefined && createdMs >= filter.createdBeforeMs) continue;
        if (filter.createdAfterMs !== undefined && createdMs <= filter.createdAfterMs) continue;
        out.push(record);
        if (out.length >= filter.limit) break;
      }
      return out;
    },
    countsByState: () => new Map([...counts].filter(([, n]) => n > 0)),
    onFinal(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    get size() {
      return tasks.size;
    },
  };
}

function ts(ms: number): Timestamp {
  return timestampFromMs(ms);
}
