// Group commit: writes queued during one event-loop turn, and every commit()
// waiting on them, are settled by one transaction on the next setImmediate
// (or at once when maxBatchRows rows wait). One fsync then covers a whole
// burst of transitions, which is what keeps throughput up under load while
// every transition is still durable before anyone is told of it.
//
// Writes are keyed by task id, so several saves of one task before a commit
// write one row. A failed transaction leaves the queue as it was: the rows are
// written by the next commit, and nobody waiting was told they were durable.
import type { TaskRow } from "./task-row.js";

export type QueuedWrite =
  | { readonly kind: "upsert"; readonly row: TaskRow }
  | { readonly kind: "remove"; readonly taskId: string };

export interface GroupCommitStats {
  /** Transactions that succeeded. */
  readonly commits: number;
  /** Rows upserted or deleted by those transactions. */
  readonly rowsWritten: number;
  readonly failedCommits: number;
  /** Rows in the last transaction that succeeded. */
  readonly lastBatchRows: number;
}

export interface GroupCommitOptions {
  /** Writes one batch atomically (all or nothing); throws when it cannot. */
  readonly writeBatch: (writes: readonly QueuedWrite[]) => void;
  /** Turns what writeBatch threw into the error commit() rejects with. */
  readonly toError: (cause: unknown) => Error;
  /** Flush at once, without waiting for the turn to end, when this many rows wait. */
  readonly maxBatchRows: number;
}

export interface GroupCommit {
  queue(write: QueuedWrite): void;
  /** Resolves once everything queued before the call is written; rejects with the store's error when the write fails. */
  commit(): Promise<void>;
  /** Writes whatever waits, now; throws the store's error when it cannot. */
  flushNow(): void;
  /** Writes whatever waits if it can, then refuses further work with `closedError`. */
  close(closedError: Error): void;
  /** How many rows wait for a commit. */
  readonly queuedRows: number;
  readonly stats: GroupCommitStats;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export function createGroupCommit(options: GroupCommitOptions): GroupCommit {
  const { writeBatch, toError, maxBatchRows } = options;
  const stats = { commits: 0, rowsWritten: 0, failedCommits: 0, lastBatchRows: 0 };
  let queued = new Map<string, QueuedWrite>();
  let waiters: Waiter[] = [];
  let scheduled: NodeJS.Immediate | undefined;
  let isFailing = false;
  let closedError: Error | undefined;

  /** Writes the queue in one transaction and settles everyone waiting; returns the error if it failed. */
  const flush = (): Error | undefined => {
    const settling = waiters;
    waiters = [];
    let error: Error | undefined;
    if (queued.size > 0) {
      const writes = [...queued.values()];
      try {
        writeBatch(writes);
        queued = new Map();
        isFailing = false;
        stats.commits += 1;
        stats.rowsWritten += writes.length;
        stats.lastBatchRows = writes.length;
      } catch (cause) {
        isFailing = true;
        stats.failedCommits += 1;
        error = toError(cause);
      }
    }
    for (const waiter of settling) {
      if (error) waiter.reject(error);
      else waiter.resolve();
    }
    return error;
  };

  const schedule = (): void => {
    if (scheduled || closedError) return;
    scheduled = setImmediate(() => {
      scheduled = undefined;
      flush();
    });
  };

  return {
    queue(write) {
      if (closedError) throw closedError;
      queued.set(write.kind === "upsert" ? write.row.taskId : write.taskId, write);
      // While the store is failing, a full queue waits for the next turn
      // instead of retrying a doomed transaction on every save.
      if (queued.size >= maxBatchRows && !isFailing) flush();
      else schedule();
    },
    commit() {
      if (closedError) return Promise.reject(closedError);
      if (queued.size === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        waiters.push({ resolve, reject });
        schedule();
      });
    },
    flushNow() {
      const error = flush();
      if (error) throw error;
    },
    close(error) {
      if (closedError) return;
      if (scheduled) clearImmediate(scheduled);
      scheduled = undefined;
      // Rows nobody waited for were never acknowledged; a failure here loses
      // nothing anyone was promised, and the waiters hear about it.
      flush();
      closedError = error;
    },
    get queuedRows() {
      return queued.size;
    },
    stats,
  };
}
