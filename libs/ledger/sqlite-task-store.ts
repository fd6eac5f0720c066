// The embedded durable store: one SQLite file through better-sqlite3, in WAL
// mode, written by group commit (group-commit.ts) so a burst of transitions
// costs one transaction and one fsync. better-sqlite3 is synchronous: a flush
// blocks the event loop for the length of its transaction, which is short
// (one prepared upsert per row) and replaces one transaction per transition.
//
// `synchronous full` keeps SQLite's own guarantee (in WAL mode: the WAL is
// synced after every commit, before anyone is told) but does the sync itself,
// off the event loop: the connection runs at NORMAL (SQLite syncs at
// checkpoints only) and each group commit is followed by an fdatasync of the
// WAL file on libuv's thread pool. The profile showed the coordinator spending
// a quarter of its time blocked in SQLite's own fsync, one small batch at a
// time; now batches written during a sync wait for the next one.
import { closeSync, fdatasync, fdatasyncSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { Database as SqliteDatabase } from "better-sqlite3";
import { FINAL_STATES } from "./task-ledger.js";
import { createGroupCommit, type CommitObserver, type QueuedWrite } from "./group-commit.js";
import { migrate, SchemaVersionError } from "./sqlite-migrations.js";
import { startWalCheckpointer, type WalCheckpointer } from "./wal-checkpointer.js";
import {
  closedStoreError,
  StoreUnavailableError,
  type StoreOperation,
  type StoredTask,
  type TaskStore,
} from "./task-store.js";
import { fromTaskRow, toTaskRow, type TaskRow } from "./task-row.js";

/**
 * How hard SQLite works to make a commit survive: with WAL, "full" survives
 * power loss; "normal" survives a crash of the process but may lose the last
 * commits on power loss; "off" leaves flushing to the operating system.
 */
export type SynchronousLevel = "off" | "normal" | "full";

export interface SqliteTaskStoreOptions {
  /** The database file; its directory is created when missing. */
  readonly path: string;
  readonly synchronous: SynchronousLevel;
  /** Flush at once, without waiting for the turn to end, when this many rows wait. Default 1000. */
  readonly maxBatchRows?: number;
  /** How long a write waits for another connection's lock before failing with SQLITE_BUSY. Default 5000. */
  readonly busyTimeoutMs?: number;
  /** For tests: how the WAL file is synced (default fs.fdatasync / fdatasyncSync). */
  readonly fileSync?: FileSync;
  /** Checkpoint the WAL (on its own thread) after this many rows written. Default 2000. */
  readonly checkpointEveryRows?: number;
  /** Told of every commit made durable and every failed one (for metrics). */
  readonly observer?: CommitObserver;
}

export interface FileSync {
  start(fd: number): Promise<void>;
  now(fd: number): void;
}

const FDATASYNC: FileSync = {
  start: (fd) =>
    new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve()))),
  now: (fd) => fdatasyncSync(fd),
};

const SYNCHRONOUS_PRAGMA: Record<SynchronousLevel, string> = {
  off: "OFF",
  normal: "NORMAL",
  full: "FULL",
};

const databases = new WeakMap<TaskStore, SqliteDatabase>();

/**
 * Opens (creating and migrating when needed) the ledger at `options.path`.
 * Throws StoreUnavailableError naming the path when it cannot be opened, and
 * SchemaVersionError when a newer scalemesh wrote it.
 */
export function openSqliteTaskStore(options: SqliteTaskStoreOptions): TaskStore {
  const { path } = options;
  const maxBatchRows = options.maxBatchRows ?? 1000;
  if (!Number.isInteger(maxBatchRows) || maxBatchRows < 1)
    throw new RangeError(`maxBatchRows must be a positive integer, got ${maxBatchRows}`);
  const synchronous = SYNCHRONOUS_PRAGMA[options.synchronous];
  if (synchronous === undefined)
    throw new RangeError(
      `synchronous must be "off", "normal" or "full", got ${String(options.synchronous)}`,
    );

  // At "full" the WAL sync after each commit is ours (see the top of this file).
  const syncsWal = synchronous === "FULL" && path !== ":memory:";
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const db = openDatabase(path, syncsWal ? "NORMAL" : synchronous, busyTimeoutMs);
  const statements = prepare(db);
  const fileSync = options.fileSync ?? FDATASYNC;
  // The WAL exists once the first write went in (migrations write); opened on the first sync.
  let walFd: number | undefined;
  const wal = (): number => (walFd ??= openSync(`${path}-wal`, "r+"));
  const fail = (operation: StoreOperation, cause: unknown): StoreUnavailableError =>
    new StoreUnavailableError({ path, operation, cause, hint: hintFor(cause) });

  // Checkpoints off the event loop (wal-checkpointer.ts); SQLite's own, inside
  // a commit, is off. Should the thread fail, SQLite's own comes back.
  let checkpointer: WalCheckpointer | undefined =
    path === ":memory:" ? undefined : startWalCheckpointer(path, busyTimeoutMs);
  if (checkpointer) db.pragma("wal_autocheckpoint = 0");
  const checkpointEveryRows = options.checkpointEveryRows ?? 2000;
  let rowsSinceCheckpoint = 0;
  const afterWrite = (rows: number): Promise<void> | undefined => {
    rowsSinceCheckpoint += rows;
    if (!checkpointer || rowsSinceCheckpoint < checkpointEveryRows) return undefined;
    rowsSinceCheckpoint = 0;
    return checkpointer.checkpoint().then(
      () => undefined,
      () => {
        checkpointer?.close();
        checkpointer = undefined;
        if (db.open) db.pragma("wal_autocheckpoint = 1000");
      },
    );
  };

  const writeAll = db.transaction((writes: readonly QueuedWrite[]) => {
    for (const write of writes) {
      if (write.kind === "upsert") statements.upsert.run(write.row);
      else statements.remove.run(write.taskId);
    }
  });
  const batches = createGroupCommit({
    writeBatch: (writes) => writeAll.immediate(writes),
    toError: (cause) => fail("written", cause),
    maxBatchRows,
    afterWrite,
    observer: options.observer,
    sync: syncsWal
      ? {
          start: async () => fileSync.start(wal()),
          now: () => fileSync.now(wal()),
        }
      : undefined,
  });
  let isClosed = false;
  const requireOpen = (operation: StoreOperation): void => {
    if (isClosed) throw closedStoreError(path, operation);
  };

  const store: TaskStore = {
    async loadAll() {
      requireOpen("read");
      try {
        return statements.loadAll.all().map(fromTaskRow);
      } catch (cause) {
        throw fail("read", cause);
      }
    },
    save: (entry: StoredTask) => batches.queue({ kind: "upsert", row: toTaskRow(entry) }),
    remove: (taskId: string) => batches.queue({ kind: "remove", taskId }),
    commit: () => batches.commit(),
    async purgeFinishedBefore(cutoffMs) {
      requireOpen("written");
      // Write what waits first, so a queued save cannot bring a purged task back.
      batches.flushNow();
      try {
        return statements.purge.run(cutoffMs, ...FINAL_STATES).changes;
      } catch (cause) {
        throw fail("written", cause);
      }
    },
    stats: batches.stats,
    async close() {
      if (isClosed) return;
      batches.close(closedStoreError(path));
      isClosed = true;
      checkpointer?.close();
      db.close();
      if (walFd !== undefined) closeSync(walFd);
    },
  };
  databases.set(store, db);
  return store;
}

/**
 * For tests only: runs a pragma on the store's own connection and returns its
 * value, e.g. "synchronous" (per connection, so invisible from another one),
 * or "max_page_count = N" to cap the file so that writes needing new pages
 * fail with SQLITE_FULL the way a full disk makes them fail.
 */
export function pragmaForTest(store: TaskStore, pragma: string): unknown {
  const db = databases.get(store);
  if (!db) throw new Error("not an open SQLite task store");
  return db.pragma(pragma, { simple: true });
}

function openDatabase(path: string, synchronous: string, busyTimeoutMs: number): SqliteDatabase {
  let db: SqliteDatabase | undefined;
  try {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    db = new Database(path, { timeout: busyTimeoutMs });
    const journalMode = db.pragma("journal_mode = WAL", { simple: true });
    if (journalMode !== "wal" && path !== ":memory:") {
      throw new Error(
        `SQLite kept journal_mode=${String(journalMode)} instead of WAL; put the ledger on a local file system`,
      );
    }
    db.pragma(`synchronous = ${synchronous}`);
    migrate(db, path);
    return db;
  } catch (cause) {
    db?.close();
    if (cause instanceof SchemaVersionError) throw cause;
    throw new StoreUnavailableError({ path, operation: "opened", cause });
  }
}

function prepare(db: SqliteDatabase) {
  const finalStates = [...FINAL_STATES].map(() => "?").join(", ");
  return {
    upsert: db.prepare<[TaskRow]>(`
      INSERT INTO tasks (task_id, sequence, state, worker_id, priority, created_at_ms, updated_at_ms, finished_at_ms, max_attempts, trace_context, task)
      VALUES (@taskId, @sequence, @state, @workerId, @priority, @createdAtMs, @updatedAtMs, @finishedAtMs, @maxAttempts, @traceContext, @task)
      ON CONFLICT (task_id) DO UPDATE SET
        sequence = excluded.sequence, state = excluded.state, worker_id = excluded.worker_id, priority = excluded.priority,
        created_at_ms = excluded.created_at_ms, updated_at_ms = excluded.updated_at_ms, finished_at_ms = excluded.finished_at_ms,
        max_attempts = excluded.max_attempts, trace_context = excluded.trace_context, task = excluded.task`),
    remove: db.prepare<[string]>("DELETE FROM tasks WHERE task_id = ?"),
    loadAll: db.prepare<[], Pick<TaskRow, "sequence" | "maxAttempts" | "traceContext" | "task">>(
      "SELECT sequence, max_attempts AS maxAttempts, trace_context AS traceContext, task FROM tasks ORDER BY sequence",
    ),
    purge: db.prepare<number[]>(
      `DELETE FROM tasks WHERE finished_at_ms < ? AND state IN (${finalStates})`,
    ),
  };
}

function hintFor(cause: unknown): string | undefined {
  const code = cause instanceof Error ? (cause as { code?: unknown }).code : undefined;
  if (code === "SQLITE_BUSY" || code === "SQLITE_LOCKED") {
    return "another process holds the ledger's write lock (only one coordinator may use a ledger file); stop it, then retry";
  }
  return undefined;
}
