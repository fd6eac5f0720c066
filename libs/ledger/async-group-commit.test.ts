// The group commit of a store whose write is a round trip, driven through a
// write whose answer the test gives: what is in flight, what waits, who hears
// what and when. The same rules against a real PostgreSQL are in
// task-store.test.ts and postgres-task-store.test.ts.
import { describe, expect, it } from "vitest";
import { TaskState } from "../contracts/index.js";
import { createAsyncGroupCommit, type AsyncGroupCommit } from "./async-group-commit.js";
import type { QueuedWrite } from "./group-commit.js";
import { recordingObserver } from "./testing/recording-observer.js";
import { storedTask } from "./testing/stored-tasks.js";
import { toTaskRow } from "./task-row.js";

interface Transaction {
  readonly ids: string[];
  commit(): void;
  fail(error: Error): void;
}

function harness(maxBatchRows = 100) {
  const transactions: Transaction[] = [];
  const { observer, batches, failures } = recordingObserver();
  const group = createAsyncGroupCommit({
    writeBatch: (writes: readonly QueuedWrite[]) =>
      new Promise<void>((resolve, reject) =>
        transactions.push({
          ids: writes.map((w) => (w.kind === "upsert" ? w.row.taskId : `-${w.taskId}`)),
          commit: resolve,
          fail: reject,
        }),
      ),
    toError: (cause) => new Error(`store: ${(cause as Error).message}`),
    maxBatchRows,
    observer,
  });
  return { group, transactions, batches, failures };
}

const save = (group: AsyncGroupCommit, id: string, state = TaskState.PENDING): void =>
  group.queue({ kind: "upsert", row: toTaskRow(storedTask({ id, sequence: 1, state })) });

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Whether the promise has settled, without waiting for it. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await turn();
  return settled;
}

describe("async group commit", () => {
  it("answers a commit only once its transaction committed", async () => {
    const { group, transactions } = harness();
    save(group, "t1");
    const committed = group.commit();
    await turn();
    expect(transactions.map((t) => t.ids)).toEqual([["t1"]]);
    expect(await isSettled(committed)).toBe(false);
    transactions[0]?.commit();
    await committed;
    expect(group.stats).toMatchObject({ commits: 1, rowsWritten: 1, lastBatchRows: 1 });
  });

  it("keeps one transaction in flight; what is saved meanwhile goes in the next, in order", async () => {
    const { group, transactions } = harness();
    save(group, "t1");
    const first = group.commit();
    await turn();
    save(group, "t2");
    save(group, "t3");
    const second = group.commit();
    await turn();
    expect(transactions).toHaveLength(1);
    transactions[0]?.commit();
    await first;
    await turn();
    expect(transactions.map((t) => t.ids)).toEqual([["t1"], ["t2", "t3"]]);
    expect(await isSettled(second)).toBe(false);
    transactions[1]?.commit();
    await second;
  });

  it("makes a commit with nothing queued wait for the transaction in flight", async () => {
    const { group, transactions } = harness();
    save(group, "t1");
    await turn();
    expect(transactions).toHaveLength(1);
    const waiting = group.commit();
    expect(await isSettled(waiting)).toBe(false);
    transactions[0]?.commit();
    await waiting;
  });

  it("starts a transaction at once when maxBatchRows rows wait, and holds no more than that", async () => {
    const { group, transactions } = harness(2);
    save(group, "t1");
    save(group, "t2");
    expect(transactions.map((t) => t.ids)).toEqual([["t1", "t2"]]);
    for (const id of ["t3", "t4", "t5"]) save(group, id);
    const all = group.commit();
    transactions[0]?.commit();
    await turn();
    expect(transactions.map((t) => t.ids)).toEqual([
      ["t1", "t2"],
      ["t3", "t4"],
    ]);
    transactions[1]?.commit();
    await turn();
    expect(await isSettled(all)).toBe(false);
    transactions[2]?.commit();
    await all;
    expect(transactions.map((t) => t.ids)).toEqual([["t1", "t2"], ["t3", "t4"], ["t5"]]);
  });

  it("tells everyone waiting of a failed transaction, keeps its rows queued unless saved again since, and writes them with the next", async () => {
    const { group, transactions, batches, failures } = harness();
    save(group, "t1");
    save(group, "t2", TaskState.ASSIGNED);
    const inFlight = group.commit();
    await turn();
    // Saved again while the first is in flight: the newer save wins over the failed one.
    save(group, "t2", TaskState.RUNNING);
    const later = group.commit();
    transactions[0]?.fail(new Error("connection refused"));
    await expect(inFlight).rejects.toThrow("store: connection refused");
    await expect(later).rejects.toThrow("store: connection refused");
    expect(group.queuedRows).toBe(2);
    expect(failures()).toBe(1);
    const retried = group.commit();
    await turn();
    expect(transactions.at(-1)?.ids).toEqual(["t1", "t2"]);
    transactions.at(-1)?.commit();
    await retried;
    expect(batches.map((b) => b.rows)).toEqual([2]);
    expect(group.stats).toMatchObject({ commits: 1, failedCommits: 1, rowsWritten: 2 });
  });

  it("does not retry a failed transaction by itself: the next save or commit does", async () => {
    const { group, transactions } = harness();
    save(group, "t1");
    const first = group.commit();
    await turn();
    transactions[0]?.fail(new Error("down"));
    await expect(first).rejects.toThrow("down");
    await turn();
    await turn();
    expect(transactions).toHaveLength(1);
    save(group, "t2");
    await turn();
    expect(transactions.map((t) => t.ids)).toEqual([["t1"], ["t1", "t2"]]);
  });

  it("runs an exclusive operation after what was queued before it, with no transaction beside it", async () => {
    const { group, transactions } = harness();
    save(group, "t1");
    const events: string[] = [];
    let finish: () => void = () => undefined;
    const purge = group.exclusive(
      () =>
        new Promise<number>((resolve) => {
          events.push("purge started");
          finish = () => resolve(7);
        }),
    );
    await turn();
    expect(events).toEqual([]);
    transactions[0]?.commit();
    await turn();
    expect(events).toEqual(["purge started"]);
    // Saved during the purge: written after it.
    save(group, "t2");
    await turn();
    expect(transactions).toHaveLength(1);
    finish();
    expect(await purge).toBe(7);
    await turn();
    expect(transactions.map((t) => t.ids)).toEqual([["t1"], ["t2"]]);
  });

  it("refuses an exclusive operation when the rows before it cannot be written", async () => {
    const { group, transactions } = harness();
    save(group, "t1");
    let ran = false;
    const purge = group.exclusive(async () => (ran = true));
    await turn();
    transactions[0]?.fail(new Error("disk full"));
    await expect(purge).rejects.toThrow("store: disk full");
    expect(ran).toBe(false);
  });

  it("writes what waits on close, then refuses more", async () => {
    const { group, transactions } = harness();
    save(group, "t1");
    const waiting = group.commit();
    const closing = group.close(new Error("closed"));
    await turn();
    expect(transactions.map((t) => t.ids)).toEqual([["t1"]]);
    expect(() => save(group, "t2")).toThrow("closed");
    transactions[0]?.commit();
    await closing;
    await waiting;
    await expect(group.commit()).rejects.toThrow("closed");
    await expect(group.exclusive(async () => 1)).rejects.toThrow("closed");
  });
});
