// What every TaskStore promises, checked against the memory store and the
// SQLite store alike; SQLite-only behaviour is in sqlite-task-store.test.ts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TaskState } from "../contracts/index.js";
import { openSqliteTaskStore } from "./sqlite-task-store.js";
import type { CommitObserver } from "./group-commit.js";
import { recordingObserver } from "./testing/recording-observer.js";
import { createMemoryTaskStore, StoreUnavailableError, type TaskStore } from "./task-store.js";
import { sameStoredTasks, storedTask } from "./testing/stored-tasks.js";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function openTracked(open: () => TaskStore): TaskStore {
  const store = open();
  cleanups.push(() => store.close());
  return store;
}

const implementations: ReadonlyArray<{
  name: string;
  open: (options?: { maxBatchRows?: number; observer?: CommitObserver }) => TaskStore;
}> = [
  { name: "memory", open: (options) => openTracked(() => createMemoryTaskStore(options)) },
  {
    name: "sqlite",
    open(options) {
      const dir = mkdtempSync(join(tmpdir(), "scalemesh-ledger-"));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      return openTracked(() =>
        openSqliteTaskStore({ path: join(dir, "ledger.db"), synchronous: "normal", ...options }),
      );
    },
  },
];

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe.each(implementations)("$name task store", ({ open }) => {
  it("returns saved tasks in sequence order once committed", async () => {
    const store = open();
    const tasks = [
      storedTask({ id: "c", sequence: 3, state: TaskState.RUNNING, workerId: "w1" }),
      storedTask({ id: "a", sequence: 1, state: TaskState.PENDING, priority: 5 }),
      storedTask({
        id: "b",
        sequence: 2,
        state: TaskState.SUCCEEDED,
        workerId: "w2",
        updatedMs: 1_700_000_050_000,
      }),
    ];
    for (const entry of tasks) store.save(entry);
    await store.commit();
    expect(store.loadAll().map((e) => e.task.spec?.taskId)).toEqual(["a", "b", "c"]);
    expect(sameStoredTasks(store.loadAll(), [tasks[1]!, tasks[2]!, tasks[0]!])).toBe(true);
  });

  it("keeps the state a task had when it was saved, not later mutations", async () => {
    const store = open();
    const entry = storedTask({ id: "t1", sequence: 1 });
    store.save(entry);
    entry.task.state = TaskState.RUNNING;
    entry.task.workerId = "w9";
    await store.commit();
    const [loaded] = store.loadAll();
    expect(loaded?.task.state).toBe(TaskState.PENDING);
    expect(loaded?.task.workerId).toBe("");
  });

  it("writes one row for many saves of one task in a turn", async () => {
    const store = open();
    const entry = storedTask({ id: "t1", sequence: 1 });
    const before = { ...store.stats };
    for (let attempt = 1; attempt <= 100; attempt += 1) {
      entry.task.attempt = attempt;
      store.save(entry);
    }
    await store.commit();
    expect(store.stats.rowsWritten - before.rowsWritten).toBe(1);
    expect(store.stats.commits - before.commits).toBe(1);
    expect(store.stats.lastBatchRows).toBe(1);
    expect(store.loadAll().map((e) => e.task.attempt)).toEqual([100]);
  });

  it("settles a turn's saves and commits with one transaction", async () => {
    const store = open();
    const before = store.stats.commits;
    const commits: Array<Promise<void>> = [];
    for (let i = 1; i <= 1000; i += 1) {
      store.save(storedTask({ id: `t${i}`, sequence: i }));
      commits.push(store.commit());
    }
    await Promise.all(commits);
    expect(store.stats.commits - before).toBe(1);
    expect(store.stats.lastBatchRows).toBe(1000);
    expect(store.loadAll()).toHaveLength(1000);
  });

  it("writes at once when maxBatchRows rows wait, without waiting for the turn to end", async () => {
    const store = open({ maxBatchRows: 10 });
    for (let i = 1; i <= 25; i += 1) store.save(storedTask({ id: `t${i}`, sequence: i }));
    expect(store.stats.commits).toBe(2);
    expect(store.loadAll()).toHaveLength(20);
    await store.commit();
    expect(store.stats.commits).toBe(3);
    expect(store.stats.rowsWritten).toBe(25);
  });

  it("writes a turn's saves even when nobody calls commit", async () => {
    const store = open();
    store.save(storedTask({ id: "t1", sequence: 1 }));
    await nextTurn();
    expect(store.loadAll()).toHaveLength(1);
  });

  it("tells its observer of each durable batch: its rows and how long it took", async () => {
    const { observer, batches } = recordingObserver();
    const store = open({ observer });
    for (let i = 1; i <= 3; i += 1) store.save(storedTask({ id: `t${i}`, sequence: i }));
    await store.commit();
    store.save(storedTask({ id: "t4", sequence: 4 }));
    await store.commit();
    expect(batches.map((b) => b.rows)).toEqual([3, 1]);
    for (const batch of batches) expect(batch.seconds).toBeGreaterThanOrEqual(0);
  });

  it("answers commit at once when nothing waits", async () => {
    const store = open();
    await store.commit();
    expect(store.stats.commits).toBe(0);
  });

  it("removes a task, and a remove after a save in the same turn wins", async () => {
    const store = open();
    store.save(storedTask({ id: "kept", sequence: 1 }));
    store.save(storedTask({ id: "gone", sequence: 2 }));
    await store.commit();
    store.remove("gone");
    store.save(storedTask({ id: "refused", sequence: 3 }));
    store.remove("refused");
    await store.commit();
    expect(store.loadAll().map((e) => e.task.spec?.taskId)).toEqual(["kept"]);
  });

  it("purges only final tasks that finished before the cutoff", async () => {
    const store = open();
    const cutoffMs = 1_700_000_100_000;
    const old = cutoffMs - 10_000;
    const recent = cutoffMs + 10_000;
    const cases: ReadonlyArray<{
      id: string;
      state: TaskState;
      updatedMs: number;
      isPurged: boolean;
    }> = [
      { id: "succeeded-old", state: TaskState.SUCCEEDED, updatedMs: old, isPurged: true },
      { id: "dead-old", state: TaskState.DEAD_LETTERED, updatedMs: old, isPurged: true },
      { id: "cancelled-old", state: TaskState.CANCELLED, updatedMs: old, isPurged: true },
      { id: "succeeded-recent", state: TaskState.SUCCEEDED, updatedMs: recent, isPurged: false },
      {
        id: "succeeded-at-cutoff",
        state: TaskState.SUCCEEDED,
        updatedMs: cutoffMs,
        isPurged: false,
      },
      { id: "pending-old", state: TaskState.PENDING, updatedMs: old, isPurged: false },
      { id: "running-old", state: TaskState.RUNNING, updatedMs: old, isPurged: false },
      { id: "failed-old", state: TaskState.FAILED, updatedMs: old, isPurged: false },
    ];
    cases.forEach((c, i) =>
      store.save(
        storedTask({
          id: c.id,
          sequence: i + 1,
          state: c.state,
          createdMs: old - 1000,
          updatedMs: c.updatedMs,
        }),
      ),
    );
    await store.commit();
    expect(store.purgeFinishedBefore(cutoffMs)).toBe(3);
    expect(store.loadAll().map((e) => e.task.spec?.taskId)).toEqual(
      cases.filter((c) => !c.isPurged).map((c) => c.id),
    );
  });

  it("writes queued saves before purging, so a purged task does not come back", async () => {
    const store = open();
    store.save(
      storedTask({ id: "done", sequence: 1, state: TaskState.SUCCEEDED, updatedMs: 1000 }),
    );
    expect(store.purgeFinishedBefore(2000)).toBe(1);
    await store.commit();
    expect(store.loadAll()).toEqual([]);
  });

  it("refuses work once closed, with StoreUnavailableError", async () => {
    const store = open();
    store.save(storedTask({ id: "t1", sequence: 1 }));
    const pending = store.commit();
    store.close();
    await expect(pending).resolves.toBeUndefined();
    await expect(store.commit()).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(() => store.save(storedTask({ id: "t2", sequence: 2 }))).toThrow(/closed/);
    expect(() => store.loadAll()).toThrow(StoreUnavailableError);
  });

  it("refuses a task without an id", () => {
    const store = open();
    const entry = storedTask({ id: "t1", sequence: 1 });
    entry.task.spec!.taskId = "";
    expect(() => store.save(entry)).toThrow(/task_id/);
  });
});

describe("memory task store", () => {
  it("fails commits while told to, keeps the rows queued and writes them once writes work again", async () => {
    const store = createMemoryTaskStore();
    cleanups.push(() => store.close());
    store.save(storedTask({ id: "t1", sequence: 1 }));
    await store.commit();
    store.failWrites(Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" }));
    store.save(storedTask({ id: "t2", sequence: 2 }));
    const failed = store.commit();
    await expect(failed).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(failed).rejects.toThrow(
      "task ledger :memory: cannot be written (SQLITE_FULL: database or disk is full); free space or fix permissions, then retry",
    );
    expect(store.loadAll().map((e) => e.task.spec?.taskId)).toEqual(["t1"]);
    store.failWrites(undefined);
    await store.commit();
    expect(store.loadAll().map((e) => e.task.spec?.taskId)).toEqual(["t1", "t2"]);
    expect(store.stats).toMatchObject({ commits: 2, failedCommits: 1, rowsWritten: 2 });
  });

  it("tells its observer of a failed write, and of the batch once it is written", async () => {
    const { observer, batches, failures } = recordingObserver();
    const store = createMemoryTaskStore({ observer });
    cleanups.push(() => store.close());
    store.failWrites(new Error("disk full"));
    store.save(storedTask({ id: "t1", sequence: 1 }));
    await expect(store.commit()).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(failures()).toBe(1);
    expect(batches).toEqual([]);
    store.failWrites(undefined);
    await store.commit();
    expect(batches.map((b) => b.rows)).toEqual([1]);
  });
});
