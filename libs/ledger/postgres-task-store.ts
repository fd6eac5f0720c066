// The shared durable store: the ledger's tasks in a PostgreSQL database, the
// store for coordinators on more than one machine. Written by group commit
// (async-group-commit.ts): the saves of one event-loop turn are one
// transaction, answered once COMMIT returns, which PostgreSQL does after the
// commit's WAL record is flushed (synchronous_commit on, its default; a
// database or role set to off would break "written before anyone is told").
//
// A batch is two statements at most, whatever its size: one DELETE of the
// removed ids and one upsert of every saved row, the columns passed as arrays
// and turned back into rows by unnest().
import type { PoolClient } from "pg";
import { createAsyncGroupCommit } from "./async-group-commit.js";
import { FencedError, type WriteFence } from "./leader-lease.js";
import type { CommitObserver, QueuedWrite } from "./group-commit.js";
import { SchemaVersionError } from "./migration.js";
import { migratePostgres } from "./postgres-migrations.js";
import { createLedgerPool, inTransaction, withConnection } from "./postgres-pool.js";
import { checkPostgresUrl, withoutPassword } from "./postgres-url.js";
import { FINAL_STATES } from "./task-ledger.js";
import { fromTaskRow, toTaskRow, type TaskRow } from "./task-row.js";
import {
  closedStoreError,
  StoreUnavailableError,
  type StoreOperation,
  type TaskStore,
} from "./task-store.js";

export interface PostgresTaskStoreOptions {
  /** postgres://user:password@host:port/database */
  readonly url: string;
  /** Rows in one transaction at most; a transaction starts at once when this many wait. Default 1000. */
  readonly maxBatchRows?: number;
  /** Told of every commit made durable and every failed one (for metrics). */
  readonly observer?: CommitObserver;
  /** How long opening a connection may take. Default 5000. */
  readonly connectTimeoutMs?: number;
  /** How long one statement may wait for its answer. Default 30000. */
  readonly queryTimeoutMs?: number;
  /** With coordinator replicas: every write checks the leader lease in its transaction (leader-lease.ts). */
  readonly fence?: WriteFence;
}

const HINTS: Record<StoreOperation, string> = {
  opened:
    "check that the server runs and takes connections, and the url's host, port, user, password and database; the user must be allowed to create tables",
  read: "check that the server runs and takes connections",
  written:
    "check that the server runs and takes connections; the rows stay queued and are written once it does",
};

const UPSERT = `
  INSERT INTO tasks (task_id, sequence, state, worker_id, priority, created_at_ms, updated_at_ms, finished_at_ms, max_attempts, trace_context, task)
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::integer[], $4::text[], $5::integer[], $6::bigint[], $7::bigint[], $8::bigint[], $9::integer[], $10::text[], $11::bytea[])
  ON CONFLICT (task_id) DO UPDATE SET
    sequence = excluded.sequence, state = excluded.state, worker_id = excluded.worker_id, priority = excluded.priority,
    created_at_ms = excluded.created_at_ms, updated_at_ms = excluded.updated_at_ms, finished_at_ms = excluded.finished_at_ms,
    max_attempts = excluded.max_attempts, trace_context = excluded.trace_context, task = excluded.task`;

const LOAD_ALL = "SELECT sequence, max_attempts, trace_context, task FROM tasks ORDER BY sequence";

/**
 * Opens the ledger in the database at `options.url`, creating and migrating
 * its tables when needed. Rejects with StoreUnavailableError naming the url
 * (without its password) when it cannot be reached, and SchemaVersionError
 * when a newer scalemesh wrote it.
 */
export async function openPostgresTaskStore(options: PostgresTaskStoreOptions): Promise<TaskStore> {
  const path = withoutPassword(options.url);
  const maxBatchRows = options.maxBatchRows ?? 1000;
  if (!Number.isInteger(maxBatchRows) || maxBatchRows < 1)
    throw new RangeError(`maxBatchRows must be a positive integer, got ${maxBatchRows}`);
  const checked = checkPostgresUrl(options.url);
  if (!checked.ok) throw new RangeError(checked.error);
  const { fence } = options;
  const fail = (operation: StoreOperation, cause: unknown): StoreUnavailableError =>
    new StoreUnavailableError({ path, operation, cause, hint: HINTS[operation] });

  // One connection writes (one transaction in flight at a time); one reads
  // beside it (recovery, a purge).
  const pool = createLedgerPool({
    url: options.url,
    max: 2,
    connectTimeoutMs: options.connectTimeoutMs,
    queryTimeoutMs: options.queryTimeoutMs,
    ...(fence ? { idleInTransactionTimeoutMs: fence.idleInTransactionTimeoutMs } : {}),
  });
  try {
    await withConnection(pool, (client) => migratePostgres(client, path));
  } catch (cause) {
    await pool.end().catch(() => undefined);
    if (cause instanceof SchemaVersionError) throw cause;
    throw fail("opened", cause);
  }

  const batches = createAsyncGroupCommit({
    writeBatch: async (writes) => {
      await inTransaction(pool, async (client) => {
        await fence?.check(client);
        await writeAll(client, writes);
      });
      fence?.confirm();
    },
    // Fenced is not "unavailable": the store is fine, this writer may no longer use it.
    toError: (cause) => (cause instanceof FencedError ? cause : fail("written", cause)),
    maxBatchRows,
    observer: options.observer,
  });
  let isClosed = false;
  const requireOpen = (operation: StoreOperation): void => {
    if (isClosed) throw closedStoreError(path, operation);
  };

  return {
    async loadAll() {
      requireOpen("read");
      const result = await pool
        .query<{ sequence: string; max_attempts: number; trace_context: string; task: Buffer }>(
          LOAD_ALL,
        )
        .catch((cause: unknown) => {
          throw fail("read", cause);
        });
      return result.rows.map((row) =>
        fromTaskRow({
          // BIGINT comes back as a string: sequences stay far below 2^53.
          sequence: Number(row.sequence),
          maxAttempts: row.max_attempts,
          traceContext: row.trace_context,
          task: row.task,
        }),
      );
    },
    save: (entry) => batches.queue({ kind: "upsert", row: toTaskRow(entry) }),
    remove: (taskId) => batches.queue({ kind: "remove", taskId }),
    commit: () => batches.commit(),
    async purgeFinishedBefore(cutoffMs) {
      requireOpen("written");
      // Written what waits first, and no batch meanwhile, so a queued save cannot bring a purged task back.
      return batches.exclusive(async () => {
        const result = await inTransaction(pool, async (client) => {
          await fence?.check(client);
          return client.query(
            "DELETE FROM tasks WHERE finished_at_ms < $1 AND state = ANY($2::integer[])",
            [cutoffMs, [...FINAL_STATES]],
          );
        }).catch((cause: unknown) => {
          throw cause instanceof FencedError ? cause : fail("written", cause);
        });
        return result.rowCount ?? 0;
      });
    },
    stats: batches.stats,
    async close() {
      if (isClosed) return;
      isClosed = true;
      await batches.close(closedStoreError(path));
      await pool.end();
    },
  };
}

async function writeAll(client: PoolClient, writes: readonly QueuedWrite[]): Promise<void> {
  const removed: string[] = [];
  const rows: TaskRow[] = [];
  for (const write of writes) {
    if (write.kind === "upsert") rows.push(write.row);
    else removed.push(write.taskId);
  }
  // The queue holds one write per task, so no row is touched twice here.
  if (removed.length > 0)
    await client.query({
      name: "scalemesh-remove-tasks",
      text: "DELETE FROM tasks WHERE task_id = ANY($1::text[])",
      values: [removed],
    });
  if (rows.length > 0)
    await client.query({ name: "scalemesh-upsert-tasks", text: UPSERT, values: columnsOf(rows) });
}

function columnsOf(rows: readonly TaskRow[]): unknown[][] {
  return [
    rows.map((r) => r.taskId),
    rows.map((r) => r.sequence),
    rows.map((r) => r.state),
    rows.map((r) => r.workerId),
    rows.map((r) => r.priority),
    rows.map((r) => r.createdAtMs),
    rows.map((r) => r.updatedAtMs),
    rows.map((r) => r.finishedAtMs),
    rows.map((r) => r.maxAttempts),
    rows.map((r) => r.traceContext),
    // pg sends bytes inside an array as \x hex.
    rows.map((r) => r.task),
  ];
}
