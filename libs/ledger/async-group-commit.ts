// Group commit for a store whose write is a round trip (PostgreSQL), with the
// promise of group-commit.ts: the writes queued during one event-loop turn,
// and every commit() waiting on them, are settled by one transaction; nobody
// is told a write is done before that transaction committed; a failed one
// leaves its rows queued for the next.
//
// One transaction is in flight at a time. Rows saved meanwhile wait for the
// next, so a slow server makes batches larger instead of stacking
// transactions, and batches land in the order they were made: a later save
// of a task never lands before an earlier one. A batch holds at most
// maxBatchRows rows; a longer queue is written in several, in order.
import type { CommitObserver, GroupCommitStats, QueuedWrite } from "./group-commit.js";

export interface AsyncGroupCommitOptions {
  /** Writes one batch in one transaction (all or nothing); rejects when it cannot. */
  readonly writeBatch: (writes: readonly QueuedWrite[]) => Promise<void>;
  /** Turns what writeBatch rejected with into the error commit() rejects with. */
  readonly toError: (cause: unknown) => Error;
  /** Start a transaction at once, without waiting for the turn to end, when this many rows wait; also the most one holds. */
  readonly maxBatchRows: number;
  readonly observer?: CommitObserver;
}

export interface AsyncGroupCommit {
  queue(write: QueuedWrite): void;
  /** Resolves once everything queued before the call is written; rejects with the store's error when a write it waits on fails. */
  commit(): Promise<void>;
  /**
   * Writes everything queued before the call, then runs `operation` while no
   * batch is written (a purge must not interleave with saves).
   */
  exclusive<T>(operation: () => Promise<T>): Promise<T>;
  /** Writes whatever waits if it can, then refuses further work with `closedError`. */
  close(closedError: Error): Promise<void>;
  /** How many rows wait for a transaction. */
  readonly queuedRows: number;
  readonly stats: GroupCommitStats;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

interface Exclusive {
  readonly run: () => Promise<void>;
  readonly refuse: (error: Error) => void;
}

export function createAsyncGroupCommit(options: AsyncGroupCommitOptions): AsyncGroupCommit {
  const { writeBatch, toError, maxBatchRows, observer } = options;
  const stats = { commits: 0, rowsWritten: 0, failedCommits: 0, lastBatchRows: 0 };
  let queued = new Map<string, QueuedWrite>();
  // Waiting for everything queued now; and for the batch in flight.
  let queueWaiters: Waiter[] = [];
  let inFlightWaiters: Waiter[] | undefined;
  const exclusives: Exclusive[] = [];
  /** What holds the lane now (a batch or an exclusive operation). */
  let current: Promise<void> | undefined;
  let scheduled: NodeJS.Immediate | undefined;
  // Asked for while the lane was busy: written once it is free, even after a failure.
  let isWanted = false;
  let isFailing = false;
  let closedError: Error | undefined;

  const keyOf = (write: QueuedWrite): string =>
    write.kind === "upsert" ? write.row.taskId : write.taskId;

  const takeBatch = (): { writes: QueuedWrite[]; waiters: Waiter[] } => {
    const writes: QueuedWrite[] = [];
    for (const [key, write] of queued) {
      if (writes.length >= maxBatchRows) break;
      writes.push(write);
      queued.delete(key);
    }
    // Those waiting on the whole queue ride on its last batch.
    const waiters = queued.size === 0 ? queueWaiters : [];
    if (queued.size === 0) queueWaiters = [];
    return { writes, waiters };
  };

  /** Puts a failed batch back in front of the queue, unless a task was saved again since. */
  const requeue = (writes: readonly QueuedWrite[]): void => {
    const merged = new Map<string, QueuedWrite>();
    for (const write of writes) if (!queued.has(keyOf(write))) merged.set(keyOf(write), write);
    for (const [key, write] of queued) merged.set(key, write);
    queued = merged;
  };

  /** Writes one batch; resolves true once it is committed, false when it failed (its waiters told). */
  const writeNext = async (): Promise<boolean> => {
    const { writes, waiters } = takeBatch();
    inFlightWaiters = waiters;
    const startedAtMs = performance.now();
    try {
      await writeBatch(writes);
    } catch (cause) {
      requeue(writes);
      isFailing = true;
      stats.failedCommits += 1;
      observer?.failed();
      const error = toError(cause);
      // Everyone waiting waits on these rows: those of this batch, and those
      // who came later (their commit covers what was in flight).
      for (const waiter of [...(inFlightWaiters ?? []), ...queueWaiters.splice(0)])
        waiter.reject(error);
      inFlightWaiters = undefined;
      return false;
    }
    isFailing = false;
    stats.commits += 1;
    stats.rowsWritten += writes.length;
    stats.lastBatchRows = writes.length;
    observer?.committed({ rows: writes.length, seconds: (performance.now() - startedAtMs) / 1000 });
    for (const waiter of inFlightWaiters ?? []) waiter.resolve();
    inFlightWaiters = undefined;
    return true;
  };

  const hold = (work: Promise<unknown>): void => {
    current = work.then(
      () => undefined,
      () => undefined,
    );
    void current.then(() => {
      current = undefined;
      if (!closedError) pump();
    });
  };

  /** Starts the next piece of work when the lane is free: an exclusive operation first, else a batch. */
  const pump = (): void => {
    if (current) return;
    const exclusive = exclusives.shift();
    if (exclusive) return hold(exclusive.run());
    if (queued.size === 0 || (isFailing && !isWanted)) return;
    isWanted = false;
    hold(writeNext());
  };

  const schedule = (): void => {
    if (scheduled || closedError) return;
    scheduled = setImmediate(() => {
      scheduled = undefined;
      isWanted = true;
      pump();
    });
  };

  const commit = (): Promise<void> => {
    if (closedError) return Promise.reject(closedError);
    if (queued.size === 0 && !inFlightWaiters) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      if (queued.size > 0) {
        queueWaiters.push({ resolve, reject });
        schedule();
      } else inFlightWaiters?.push({ resolve, reject });
    });
  };

  return {
    queue(write) {
      if (closedError) throw closedError;
      queued.set(keyOf(write), write);
      // While the store is failing, a full queue waits for the next turn
      // instead of retrying a doomed transaction on every save.
      if (queued.size >= maxBatchRows && !isFailing) pump();
      schedule();
    },
    commit,
    async exclusive<T>(operation: () => Promise<T>): Promise<T> {
      await commit();
      if (closedError) throw closedError;
      return new Promise<T>((resolve, reject) => {
        exclusives.push({ run: () => operation().then(resolve, reject), refuse: reject });
        pump();
      });
    },
    async close(error) {
      if (closedError) return;
      closedError = error;
      if (scheduled) clearImmediate(scheduled);
      scheduled = undefined;
      // Exclusive operations not started yet are refused; the lane is let finish.
      for (const exclusive of exclusives.splice(0)) exclusive.refuse(error);
      while (current) await current;
      // Rows nobody waited for were never acknowledged; a failure here loses
      // nothing anyone was promised, and the waiters hear about it.
      while (queued.size > 0 && (await writeNext()));
      for (const waiter of queueWaiters.splice(0)) waiter.reject(error);
    },
    get queuedRows() {
      return queued.size;
    },
    stats,
  };
}
