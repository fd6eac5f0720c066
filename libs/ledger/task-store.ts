// Where the ledger's tasks survive a restart. The coordinator saves every
// transition and tells nobody of it until commit() resolves; on start it
// rebuilds the ledger from loadAll(). The SQLite store (sqlite-task-store.ts)
// is the embedded default, the PostgreSQL store (postgres-task-store.ts) the
// shared one; the memory store here behaves the same, batching included, for
// tests and `ledger.path: ":memory:"`. Saving is synchronous (it queues);
// whatever touches the store itself answers with a promise, since a store
// may be across the network.
import type { Task } from "../contracts/index.js";
import {
  createGroupCommit,
  type CommitObserver,
  type GroupCommitStats,
  type QueuedWrite,
} from "./group-commit.js";
import { isFinal } from "./task-ledger.js";
import { fromTaskRow, toTaskRow, type TaskRow } from "./task-row.js";

export interface StoredTask {
  readonly task: Task;
  readonly maxAttempts: number;
  readonly traceContext: Readonly<Record<string, string>>;
  readonly sequence: number;
}

export interface TaskStore {
  /** Every stored task in sequence order (recovery on start). */
  loadAll(): Promise<StoredTask[]>;
  /**
   * Queues an upsert of the task's current state; several saves of one task
   * before a commit write one row. The task is serialised now, so the caller
   * keeps ownership of `task` and may mutate it straight away.
   */
  save(entry: StoredTask): void;
  /** Removes a task (used when a refused Assign is rolled back before anyone was told). */
  remove(taskId: string): void;
  /**
   * Resolves once everything saved or removed before this call is durable.
   * Group commit: all saves made in one event-loop turn (and all commit()
   * calls waiting) go in one transaction. Rejects with StoreUnavailableError
   * when the write fails; the failed rows stay queued and are written by the
   * next commit.
   */
  commit(): Promise<void>;
  /**
   * Deletes final tasks (SUCCEEDED, DEAD_LETTERED, CANCELLED) whose
   * finished_at is before cutoffMs; returns how many. Writes anything queued
   * first; rejects with StoreUnavailableError when it cannot write.
   */
  purgeFinishedBefore(cutoffMs: number): Promise<number>;
  readonly stats: GroupCommitStats;
  /** Writes anything still queued if it can, then releases the store; later calls fail with StoreUnavailableError. */
  close(): Promise<void>;
}

export type StoreOperation = "opened" | "read" | "written";

export interface StoreUnavailableOptions {
  /** The ledger's file (or ":memory:"), or its database's url without the password. */
  readonly path: string;
  readonly operation: StoreOperation;
  readonly cause: unknown;
  /** What an operator can do about it; a default per operation otherwise. */
  readonly hint?: string;
}

const HINTS: Record<StoreOperation, string> = {
  opened:
    "check that its directory can be created and written, the disk is local, and the file is a scalemesh ledger",
  read: "check the file and its permissions",
  written: "free space or fix permissions, then retry",
};

/** The ledger cannot be opened, read or written; retryable once an operator fixes the cause. */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
  readonly path: string;
  /** The underlying code, e.g. SQLITE_FULL or EACCES, when there is one. */
  readonly code: string | undefined;

  constructor(options: StoreUnavailableOptions) {
    const code = codeOf(options.cause);
    super(
      `task ledger ${options.path} cannot be ${options.operation} (${describe(options.cause, code)}); ${options.hint ?? HINTS[options.operation]}`,
      {
        cause: options.cause,
      },
    );
    this.path = options.path;
    this.code = code;
  }
}

export function closedStoreError(
  path: string,
  operation: StoreOperation = "written",
): StoreUnavailableError {
  return new StoreUnavailableError({
    path,
    operation,
    cause: "the store is closed",
    hint: "the coordinator is shutting down",
  });
}

function codeOf(cause: unknown): string | undefined {
  const code = cause instanceof Error ? (cause as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : undefined;
}

function describe(cause: unknown, code: string | undefined): string {
  const message = cause instanceof Error ? cause.message : String(cause);
  return code === undefined || message.startsWith(code) ? message : `${code}: ${message}`;
}

export interface MemoryTaskStore extends TaskStore {
  /** Makes every write fail with `cause` until called with undefined (to test the unhappy path). */
  failWrites(cause: Error | undefined): void;
}

const MEMORY_PATH = ":memory:";

export function createMemoryTaskStore(
  options: { maxBatchRows?: number; observer?: CommitObserver } = {},
): MemoryTaskStore {
  const rows = new Map<string, TaskRow>();
  let failure: Error | undefined;
  let isClosed = false;

  const writeBatch = (writes: readonly QueuedWrite[]): void => {
    if (failure) throw failure;
    for (const write of writes) {
      if (write.kind === "upsert") rows.set(write.row.taskId, write.row);
      else rows.delete(write.taskId);
    }
  };
  const batches = createGroupCommit({
    writeBatch,
    toError: (cause) =>
      new StoreUnavailableError({ path: MEMORY_PATH, operation: "written", cause }),
    maxBatchRows: options.maxBatchRows ?? 1000,
    observer: options.observer,
  });
  const requireOpen = (operation: StoreOperation): void => {
    if (isClosed) throw closedStoreError(MEMORY_PATH, operation);
  };

  return {
    async loadAll() {
      requireOpen("read");
      return [...rows.values()].sort((a, b) => a.sequence - b.sequence).map(fromTaskRow);
    },
    save: (entry) => batches.queue({ kind: "upsert", row: toTaskRow(entry) }),
    remove: (taskId) => batches.queue({ kind: "remove", taskId }),
    commit: () => batches.commit(),
    async purgeFinishedBefore(cutoffMs) {
      requireOpen("written");
      batches.flushNow();
      if (failure)
        throw new StoreUnavailableError({
          path: MEMORY_PATH,
          operation: "written",
          cause: failure,
        });
      let purged = 0;
      for (const [taskId, row] of rows) {
        if (!isFinal(row.state) || row.finishedAtMs === null || row.finishedAtMs >= cutoffMs)
          continue;
        rows.delete(taskId);
        purged += 1;
      }
      return purged;
    },
    stats: batches.stats,
    async close() {
      if (isClosed) return;
      batches.close(closedStoreError(MEMORY_PATH));
      isClosed = true;
    },
    failWrites(cause) {
      failure = cause;
    },
  };
}
