// Group commit: writes queued during one event-loop turn, and every commit()
// waiting on them, are settled by one transaction on the next setImmediate
// (or at once when maxBatchRows rows wait). One fsync then covers a whole
// burst of transitions, which is what keeps throughput up under load while
// every transition is still durable before anyone is told of it.
//
// Writes are keyed by task id, so several saves of one task before a commit
// write one row. A failed transaction leaves the queue as it was: the rows are
// written by the next commit, and nobody waiting was told they were durable.
//
// With a `sync` step (the SQLite store's fdatasync of its WAL), a batch is
// written at once and made durable off the event loop: one sync is in flight
// at a time, and the batches written meanwhile wait for the next one, so a
// slow disk makes batches larger instead of stalling every other task.
// Nobody is told a write is done before a sync that started after it ended.
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

/** Told how commits go, for metrics; called on the event loop, so it must be cheap. */
export interface CommitObserver {
  /** A batch is durable: its rows, and the seconds from the start of its write to durable (its sync included). */
  committed(batch: { readonly rows: number; readonly seconds: number }): void;
  /** A write or a sync failed. */
  failed(): void;
}

export interface GroupCommitOptions {
  /** Writes one batch atomically (all or nothing); throws when it cannot. */
  readonly writeBatch: (writes: readonly QueuedWrite[]) => void;
  /** Turns what writeBatch threw into the error commit() rejects with. */
  readonly toError: (cause: unknown) => Error;
  /** Flush at once, without waiting for the turn to end, when this many rows wait. */
  readonly maxBatchRows: number;
  /**
   * Makes what writeBatch wrote durable: `start` off the event loop, `now`
   * blocking (for close). Without it a written batch is durable already.
   */
  readonly sync?: { start(): Promise<void>; now(): void };
  /**
   * Told of every batch written; a promise it returns pauses writing until it
   * settles (the store's WAL checkpoint, which must not be overtaken). Saves
   * and commits queue meanwhile.
   */
  readonly afterWrite?: (rows: number) => Promise<void> | undefined;
  readonly observer?: CommitObserver;
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

/** Batches awaiting a sync that the observer remembers at most. */
const MAX_UNSYNCED_OBSERVED = 1000;

interface Waiter {
  /** Settled once this many batches are written and synced. */
  readonly generation: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export function createGroupCommit(options: GroupCommitOptions): GroupCommit {
  const { writeBatch, toError, maxBatchRows, sync, afterWrite, observer } = options;
  const stats = { commits: 0, rowsWritten: 0, failedCommits: 0, lastBatchRows: 0 };
  let queued = new Map<string, QueuedWrite>();
  let waiters: Waiter[] = [];
  let scheduled: NodeJS.Immediate | undefined;
  let isFailing = false;
  let closedError: Error | undefined;
  // Batches written, and how many of them a finished sync covers.
  let written = 0;
  let synced = 0;
  let isSyncing = false;
  let pause: Promise<void> | undefined;
  // Batches written and not yet synced, for the observer: when each write started.
  let unsynced: { generation: number; rows: number; startedAtMs: number }[] = [];

  const observeDurable = (upTo: number): void => {
    if (!observer) return;
    const nowMs = performance.now();
    const keep: typeof unsynced = [];
    for (const batch of unsynced) {
      if (batch.generation > upTo) keep.push(batch);
      else observer.committed({ rows: batch.rows, seconds: (nowMs - batch.startedAtMs) / 1000 });
    }
    unsynced = keep;
  };

  /** Settles the waiters whose batch is in generations (from, upTo]. */
  const settle = (upTo: number, error?: Error, from = Number.NEGATIVE_INFINITY): void => {
    const keep: Waiter[] = [];
    for (const waiter of waiters) {
      if (waiter.generation > upTo || waiter.generation <= from) keep.push(waiter);
      else if (error) waiter.reject(error);
      else waiter.resolve();
    }
    waiters = keep;
  };

  const startSync = (): void => {
    if (!sync || isSyncing || synced >= written || closedError) return;
    isSyncing = true;
    const target = written;
    sync.start().then(
      () => {
        isSyncing = false;
        synced = target;
        observeDurable(target);
        settle(target);
        startSync();
      },
      (cause: unknown) => {
        // Written but not known durable: those waiting hear the error; the
        // next commit syncs again.
        isSyncing = false;
        stats.failedCommits += 1;
        observer?.failed();
        settle(target, toError(cause));
      },
    );
  };

  /** Writes the queue in one transaction; settles (or starts the sync for) everyone waiting on it. Returns the error if it failed. */
  const flush = (force = false): Error | undefined => {
    // During a pause, written once it ends (or now, by flushNow and close, which cannot wait).
    if (pause && !force) return undefined;
    if (queued.size === 0) {
      startSync();
      return undefined;
    }
    const writes = [...queued.values()];
    const startedAtMs = observer ? performance.now() : 0;
    try {
      writeBatch(writes);
    } catch (cause) {
      isFailing = true;
      stats.failedCommits += 1;
      observer?.failed();
      const error = toError(cause);
      // Only those waiting on this batch; earlier ones were written.
      settle(written + 1, error, written);
      return error;
    }
    queued = new Map();
    isFailing = false;
    written += 1;
    stats.commits += 1;
    stats.rowsWritten += writes.length;
    stats.lastBatchRows = writes.length;
    // A sync that keeps failing leaves batches here; the oldest are dropped past a bound.
    if (observer) {
      unsynced.push({ generation: written, rows: writes.length, startedAtMs });
      if (unsynced.length > MAX_UNSYNCED_OBSERVED) unsynced.shift();
    }
    if (sync) startSync();
    else {
      synced = written;
      observeDurable(written);
      settle(written);
    }
    const paused = afterWrite?.(writes.length);
    if (paused && !pause) {
      pause = paused.then(
        () => undefined,
        () => undefined,
      );
      void pause.then(() => {
        pause = undefined;
        if (queued.size > 0 && !closedError) flush();
      });
    }
    return undefined;
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
      if (queued.size >= maxBatchRows && !isFailing && !pause) flush();
      else schedule();
    },
    commit() {
      if (closedError) return Promise.reject(closedError);
      if (queued.size === 0 && synced >= written) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        waiters.push({ generation: queued.size > 0 ? written + 1 : written, resolve, reject });
        if (queued.size > 0) schedule();
        else startSync();
      });
    },
    flushNow() {
      const error = flush(true);
      if (error) throw error;
    },
    close(error) {
      if (closedError) return;
      if (scheduled) clearImmediate(scheduled);
      scheduled = undefined;
      // Rows nobody waited for were never acknowledged; a failure here loses
      // nothing anyone was promised, and the waiters hear about it.
      const failed = flush(true);
      if (!failed && sync && synced < written) {
        try {
          sync.now();
          synced = written;
          settle(written);
        } catch (cause) {
          settle(written, toError(cause));
        }
      }
      closedError = error;
      // A sync still in flight settles nobody now: tell whoever still waits.
      settle(Number.POSITIVE_INFINITY, error);
    },
    get queuedRows() {
      return queued.size;
    },
    stats,
  };
}
