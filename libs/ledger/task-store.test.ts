// What every TaskStore promises, checked against the memory store, the
// SQLite store and the PostgreSQL store (a real server, see
// test/support/postgres-server.ts) alike; what only one store does is in
// sqlite-task-store.test.ts and postgres-task-store.test.ts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startPostgresServer, type PostgresServer } from "../../test/support/postgres-server.js";
import { TaskState } from "../contracts/index.js";
import { openPostgresTaskStore } from "./postgres-task-store.js";
import { openSqliteTaskStore } from "./sqlite-task-store.js";
import type { CommitObserver } from "./group-commit.js";
import { recordingObserver } from "./testing/recording-observer.js";
import { createMemoryTaskStore, StoreUnavailableError, type TaskStore } from "./task-store.js";
import { sameStoredTasks, storedTask } from "./testing/stored-tasks.js";
import type { TaskRow } from "./task-row.js";

let postgres: PostgresServer;
beforeAll(async () => {
  postgres = await startPostgresServer();
});
afterAll(() => postgres?.close());

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function openTracked(open: () => TaskStore | Promise<TaskStore>): Promise<TaskStore> {
  const store = await open();
  cleanups.push(() => store.close());
  return store;
}

type OpenOptions = { maxBatchRows?: number; observer?: CommitObserver };

/** The columns a store indexes, as another connection reads them. */
type IndexedRow = Omit<TaskRow, "task">;

/** One ledger: a file, a database, or memory. */
interface Ledger {
  /** Opens a store on it; a durable one opened again after a close finds what was written. */
  open(options?: OpenOptions): Promise<TaskStore>;
  /** Its rows' indexed columns in sequence order (durable stores). */
  readonly columns?: () => Promise<IndexedRow[]>;
}

// Aliases in double quotes read the same in both dialects.
const COLUMNS = `SELECT task_id AS "taskId", sequence, state, worker_id AS "workerId", priority,
  created_at_ms AS "createdAtMs", updated_at_ms AS "updatedAtMs", finished_at_ms AS "finishedAtMs",
  max_attempts AS "maxAttempts", trace_context AS "traceContext" FROM tasks ORDER BY sequence`;

const implementations: ReadonlyArray<{ name: string; newLedger: () => Promise<Ledger> }> = [
  {
    name: "memory",
    newLedger: async () => ({
      open: (options) => openTracked(() => createMemoryTaskStore(options)),
    }),
  },
  {
    name: "sqlite",
    async newLedger() {
      const dir = mkdtempSync(join(tmpdir(), "scalemesh-ledger-"));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const path = join(dir, "ledger.db");
      return {
        open: (options) =>
          openTracked(() => openSqliteTaskStore({ path, synchronous: "normal", ...options })),
        async columns() {
          const db = new Database(path, { readonly: true });
          try {
            return db.prepare<[], IndexedRow>(COLUMNS).all();
          } finally {
            db.close();
          }
        },
      };
    },
  },
  {
    name: "postgres",
    async newLedger() {
      const url = await postgres.createDatabase();
      return {
        open: (options) => openTracked(() => openPostgresTaskStore({ url, ...options })),
        async columns() {
          // BIGINT as a number here, as the SQLite file gives it.
          const client = new pg.Client({
            connectionString: url,
            types: {
              getTypeParser: ((oid: number, format: "text" | "binary") =>
                oid === pg.types.builtins.INT8
                  ? Number
                  : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
            },
          });
          await client.connect();
          try {
            return (await client.query<IndexedRow>(COLUMNS)).rows;
          } finally {
            await client.end();
          }
        },
      };
    },
  },
];

const ids = async (store: TaskStore): Promise<string[]> =>
  (await store.loadAll()).map((e) => e.task.spec?.taskId ?? "");

describe.each(implementations)("$name task store", ({ newLedger }) => {
  const open = async (options?: OpenOptions): Promise<TaskStore> =>
    (await newLedger()).open(options);

  it("returns saved tasks in sequence order once committed", async () => {
    const store = await open();
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
    expect(await ids(store)).toEqual(["a", "b", "c"]);
    expect(sameStoredTasks(await store.loadAll(), [tasks[1]!, tasks[2]!, tasks[0]!])).toBe(true);
  });

  it("keeps the state a task had when it was saved, not later mutations", async () => {
    const store = await open();
    const entry = storedTask({ id: "t1", sequence: 1 });
    store.save(entry);
    entry.task.state = TaskState.RUNNING;
    entry.task.workerId = "w9";
    await store.commit();
    const [loaded] = await store.loadAll();
    expect(loaded?.task.state).toBe(TaskState.PENDING);
    expect(loaded?.task.workerId).toBe("");
  });

  it("writes one row for many saves of one task in a turn", async () => {
    const store = await open();
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
    expect((await store.loadAll()).map((e) => e.task.attempt)).toEqual([100]);
  });

  it("settles a turn's saves and commits with one transaction", async () => {
    const store = await open();
    const before = store.stats.commits;
    const commits: Array<Promise<void>> = [];
    for (let i = 1; i <= 1000; i += 1) {
      store.save(storedTask({ id: `t${i}`, sequence: i }));
      commits.push(store.commit());
    }
    await Promise.all(commits);
    expect(store.stats.commits - before).toBe(1);
    expect(store.stats.lastBatchRows).toBe(1000);
    expect(await store.loadAll()).toHaveLength(1000);
  });

  it("writes no more than maxBatchRows rows in one transaction", async () => {
    const store = await open({ maxBatchRows: 10 });
    for (let i = 1; i <= 25; i += 1) store.save(storedTask({ id: `t${i}`, sequence: i }));
    await store.commit();
    expect(store.stats).toMatchObject({ commits: 3, rowsWritten: 25, lastBatchRows: 5 });
    expect(await store.loadAll()).toHaveLength(25);
  });

  it("writes a turn's saves even when nobody calls commit", async () => {
    let written: () => void = () => undefined;
    const isWritten = new Promise<void>((resolve) => (written = resolve));
    const store = await open({ observer: { committed: () => written(), failed: () => {} } });
    store.save(storedTask({ id: "t1", sequence: 1 }));
    await isWritten;
    expect(await store.loadAll()).toHaveLength(1);
  });

  it("tells its observer of each durable batch: its rows and how long it took", async () => {
    const { observer, batches } = recordingObserver();
    const store = await open({ observer });
    for (let i = 1; i <= 3; i += 1) store.save(storedTask({ id: `t${i}`, sequence: i }));
    await store.commit();
    store.save(storedTask({ id: "t4", sequence: 4 }));
    await store.commit();
    expect(batches.map((b) => b.rows)).toEqual([3, 1]);
    for (const batch of batches) expect(batch.seconds).toBeGreaterThanOrEqual(0);
  });

  it("answers commit at once when nothing waits", async () => {
    const store = await open();
    await store.commit();
    expect(store.stats.commits).toBe(0);
  });

  it("removes a task, and a remove after a save in the same turn wins", async () => {
    const store = await open();
    store.save(storedTask({ id: "kept", sequence: 1 }));
    store.save(storedTask({ id: "gone", sequence: 2 }));
    await store.commit();
    store.remove("gone");
    store.save(storedTask({ id: "refused", sequence: 3 }));
    store.remove("refused");
    await store.commit();
    expect(await ids(store)).toEqual(["kept"]);
  });

  it("purges only final tasks that finished before the cutoff", async () => {
    const store = await open();
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
    expect(await store.purgeFinishedBefore(cutoffMs)).toBe(3);
    expect(await ids(store)).toEqual(cases.filter((c) => !c.isPurged).map((c) => c.id));
  });

  it("writes queued saves before purging, so a purged task does not come back", async () => {
    const store = await open();
    store.save(
      storedTask({ id: "done", sequence: 1, state: TaskState.SUCCEEDED, updatedMs: 1000 }),
    );
    expect(await store.purgeFinishedBefore(2000)).toBe(1);
    await store.commit();
    expect(await store.loadAll()).toEqual([]);
  });

  it("refuses work once closed, with StoreUnavailableError", async () => {
    const store = await open();
    store.save(storedTask({ id: "t1", sequence: 1 }));
    const pending = store.commit();
    const closing = store.close();
    await expect(pending).resolves.toBeUndefined();
    await closing;
    await expect(store.commit()).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(() => store.save(storedTask({ id: "t2", sequence: 2 }))).toThrow(/closed/);
    await expect(store.loadAll()).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.purgeFinishedBefore(1)).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it("refuses a task without an id", async () => {
    const store = await open();
    const entry = storedTask({ id: "t1", sequence: 1 });
    entry.task.spec!.taskId = "";
    expect(() => store.save(entry)).toThrow(/task_id/);
  });
});

// What a durable store keeps across a close, and how it files each row.
describe.each(implementations.filter((i) => i.name !== "memory"))(
  "$name task store, reopened",
  ({ newLedger }) => {
    it("gives back every task as it was after a close and reopen, in sequence order", async () => {
      const ledger = await newLedger();
      const tasks = [
        storedTask({ id: "pending", sequence: 1, priority: 7 }),
        storedTask({ id: "assigned", sequence: 2, state: TaskState.ASSIGNED, workerId: "w1" }),
        storedTask({ id: "running", sequence: 3, state: TaskState.RUNNING, workerId: "w2" }),
        storedTask({
          id: "succeeded",
          sequence: 4,
          state: TaskState.SUCCEEDED,
          workerId: "w1",
          updatedMs: 1_700_000_009_000,
          payloadBytes: 100_000,
        }),
        storedTask({
          id: "dead",
          sequence: 5,
          state: TaskState.DEAD_LETTERED,
          workerId: "w3",
          updatedMs: 1_700_000_009_500,
        }),
        storedTask({ id: "cancelled", sequence: 6, state: TaskState.CANCELLED }),
      ];
      const first = await ledger.open();
      for (const entry of [...tasks].reverse()) first.save(entry);
      await first.commit();
      await first.close();

      const loaded = await (await ledger.open()).loadAll();
      expect(sameStoredTasks(loaded, tasks)).toBe(true);
      expect(typeof loaded[0]?.task.createdAt?.seconds).toBe("bigint");
    });

    it("keeps the indexed columns in step with the task", async () => {
      const ledger = await newLedger();
      const store = await ledger.open();
      const at = { createdMs: 1000 };
      store.save(
        storedTask({
          id: "run",
          sequence: 1,
          state: TaskState.RUNNING,
          workerId: "w1",
          priority: 3,
          ...at,
          updatedMs: 2000,
        }),
      );
      store.save(
        storedTask({
          id: "done",
          sequence: 2,
          state: TaskState.SUCCEEDED,
          workerId: "w2",
          ...at,
          updatedMs: 3000,
        }),
      );
      await store.commit();
      const row = (fields: Partial<IndexedRow>): IndexedRow => ({
        taskId: "",
        sequence: 0,
        state: TaskState.PENDING,
        workerId: "",
        priority: 0,
        createdAtMs: 1000,
        updatedAtMs: null,
        finishedAtMs: null,
        maxAttempts: 3,
        traceContext: expect.stringContaining("traceparent") as string,
        ...fields,
      });
      expect(await ledger.columns?.()).toEqual([
        row({
          taskId: "run",
          sequence: 1,
          state: TaskState.RUNNING,
          workerId: "w1",
          priority: 3,
          updatedAtMs: 2000,
        }),
        row({
          taskId: "done",
          sequence: 2,
          state: TaskState.SUCCEEDED,
          workerId: "w2",
          updatedAtMs: 3000,
          finishedAtMs: 3000,
        }),
      ]);
    });
  },
);

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
    expect(await ids(store)).toEqual(["t1"]);
    store.failWrites(undefined);
    await store.commit();
    expect(await ids(store)).toEqual(["t1", "t2"]);
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
