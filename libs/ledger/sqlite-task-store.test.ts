// The SQLite store against real files: how the file is set up, its own sync
// and checkpoints, and what a failed write does. The TaskStore contract, and
// what survives a reopen, are checked in task-store.test.ts.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TaskState } from "../contracts/index.js";
import {
  openSqliteTaskStore,
  pragmaForTest,
  type SqliteTaskStoreOptions,
} from "./sqlite-task-store.js";
import { StoreUnavailableError, type TaskStore } from "./task-store.js";
import { recordingObserver } from "./testing/recording-observer.js";
import { sameStoredTasks, storedTask } from "./testing/stored-tasks.js";

let dir: string;
let path: string;
const opened: TaskStore[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "scalemesh-ledger-"));
  path = join(dir, "nested", "ledger.db");
});
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function open(options: Partial<SqliteTaskStoreOptions> = {}): TaskStore {
  const store = openSqliteTaskStore({ path, synchronous: "full", ...options });
  opened.push(store);
  return store;
}

function inspect<T>(read: (db: Database.Database) => T): T {
  const db = new Database(path, { readonly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

describe("SQLite task store", () => {
  // The write is synchronous here, so "at once" shows in the stats before the turn ends.
  it("writes at once when maxBatchRows rows wait, without waiting for the turn to end", async () => {
    const store = open({ maxBatchRows: 10 });
    for (let i = 1; i <= 25; i += 1) store.save(storedTask({ id: `t${i}`, sequence: i }));
    expect(store.stats.commits).toBe(2);
    expect(inspect((db) => db.prepare("SELECT count(*) AS n FROM tasks").get())).toEqual({ n: 20 });
    await store.commit();
    expect(store.stats.commits).toBe(3);
    expect(store.stats.rowsWritten).toBe(25);
  });

  // At "full" the connection runs at NORMAL and the store syncs the WAL itself after each commit.
  it.each([
    { synchronous: "off", pragmaValue: 0 },
    { synchronous: "normal", pragmaValue: 1 },
    { synchronous: "full", pragmaValue: 1 },
  ] as const)(
    "creates the directory and opens in WAL mode with synchronous=$synchronous",
    ({ synchronous, pragmaValue }) => {
      const store = open({ synchronous });
      expect(inspect((db) => db.pragma("journal_mode", { simple: true }))).toBe("wal");
      expect(pragmaForTest(store, "synchronous")).toBe(pragmaValue);
    },
  );

  it("at synchronous full, answers a commit only once the WAL is synced, batching what is written meanwhile", async () => {
    const syncs: { fd: number; done: (error?: Error) => void }[] = [];
    const store = open({
      fileSync: {
        start: (fd) =>
          new Promise<void>((resolve, reject) =>
            syncs.push({ fd, done: (error) => (error ? reject(error) : resolve()) }),
          ),
        now: () => {},
      },
    });
    let firstDone = false;
    store.save(storedTask({ id: "t1", sequence: 1 }));
    const first = store.commit().then(() => (firstDone = true));
    await new Promise((resolve) => setImmediate(resolve));
    // Written (another connection reads it), not yet synced: nobody is told.
    expect(inspect((db) => db.prepare("SELECT count(*) AS n FROM tasks").get())).toEqual({ n: 1 });
    expect(syncs).toHaveLength(1);
    expect(firstDone).toBe(false);
    // Written while that sync runs: waits for a second sync, started after it.
    store.save(storedTask({ id: "t2", sequence: 2 }));
    store.save(storedTask({ id: "t3", sequence: 3 }));
    let laterDone = false;
    const later = store.commit().then(() => (laterDone = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(syncs).toHaveLength(1);
    syncs[0]?.done();
    await first;
    expect(laterDone).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(syncs).toHaveLength(2);
    // A sync that fails is the store's error; the next commit syncs again.
    syncs[1]?.done(new Error("EIO: i/o error, fdatasync"));
    await expect(later).rejects.toBeInstanceOf(StoreUnavailableError);
    const retried = store.commit();
    await new Promise((resolve) => setImmediate(resolve));
    expect(syncs).toHaveLength(3);
    syncs[2]?.done();
    await retried;
    expect(syncs.every((s) => s.fd === syncs[0]?.fd)).toBe(true);
    expect(firstDone && !laterDone).toBe(true);
  });

  it("at synchronous full, tells its observer of a batch once its sync is done, and of a failed sync", async () => {
    const syncs: ((error?: Error) => void)[] = [];
    const { observer, batches, failures } = recordingObserver();
    const store = open({
      observer,
      fileSync: {
        start: () =>
          new Promise<void>((resolve, reject) =>
            syncs.push((error) => (error ? reject(error) : resolve())),
          ),
        now: () => {},
      },
    });
    const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    store.save(storedTask({ id: "t1", sequence: 1 }));
    store.save(storedTask({ id: "t2", sequence: 2 }));
    const first = store.commit();
    await turn();
    expect(batches).toEqual([]);
    syncs[0]?.(new Error("EIO: i/o error, fdatasync"));
    await expect(first).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(failures()).toBe(1);
    // Written but not known durable: the next sync that succeeds makes it so.
    const retried = store.commit();
    await turn();
    syncs[1]?.();
    await retried;
    expect(batches.map((b) => b.rows)).toEqual([2]);
  });

  it.each([
    { every: 300, isBounded: true },
    { every: 1_000_000, isBounded: false },
  ])(
    "checkpoints the WAL on its own thread every $every rows, so the WAL stays small ($isBounded)",
    async ({ every, isBounded }) => {
      const store = open({ synchronous: "normal", checkpointEveryRows: every });
      // SQLite's own checkpoint (inside a commit, on the event loop) is off.
      expect(pragmaForTest(store, "wal_autocheckpoint")).toBe(0);
      for (let batch = 0; batch < 30; batch += 1) {
        for (let i = 0; i < 100; i += 1) {
          const n = batch * 100 + i;
          store.save(storedTask({ id: `t${n}`, sequence: n, payloadBytes: 1024 }));
        }
        await store.commit();
      }
      // Wait for the last checkpoint asked for to end (writes pause while it runs).
      store.save(storedTask({ id: "last", sequence: 9_999 }));
      await store.commit();
      await new Promise((resolve) => setTimeout(resolve, 100));
      const walBytes = statSync(`${path}-wal`).size;
      // 3,000 rows of 1 KiB: without checkpoints the WAL holds all of them.
      if (isBounded) expect(walBytes).toBeLessThan(1_500_000);
      else expect(walBytes).toBeGreaterThan(3_000_000);
      expect(inspect((db) => db.prepare("SELECT count(*) AS n FROM tasks").get())).toEqual({
        n: 3_001,
      });
    },
  );

  it("touches its files no more once closed, even when closed before its checkpoint thread started", async () => {
    await open().close();
    // Whoever owns the directory may now remove the ledger. Had the thread
    // opened its connection only now, it would create an empty ledger.db again.
    rmSync(path);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(readdirSync(join(dir, "nested"))).toEqual([]);
  });

  it("leaves only its database file once closed, every row folded into it", async () => {
    const store = open({ synchronous: "normal", checkpointEveryRows: 10 });
    for (let i = 1; i <= 50; i += 1) store.save(storedTask({ id: `t${i}`, sequence: i }));
    await store.commit();
    await store.close();
    // The last connection to close folds the WAL in and deletes it with the
    // shared-memory file.
    expect(readdirSync(join(dir, "nested"))).toEqual(["ledger.db"]);
    expect(await open().loadAll()).toHaveLength(50);
  });

  it("at synchronous normal, answers a commit once it is written, with no sync of its own", async () => {
    let syncs = 0;
    const store = open({
      synchronous: "normal",
      fileSync: { start: async () => void (syncs += 1), now: () => void (syncs += 1) },
    });
    store.save(storedTask({ id: "t1", sequence: 1 }));
    await store.commit();
    expect(syncs).toBe(0);
  });

  it("fails a commit with StoreUnavailableError when the file cannot grow, keeps reading, and writes the queued rows once it can", async () => {
    const store = open();
    store.save(storedTask({ id: "t1", sequence: 1 }));
    await store.commit();
    pragmaForTest(store, "max_page_count = 1");

    for (let i = 2; i <= 20; i += 1)
      store.save(storedTask({ id: `t${i}`, sequence: i, payloadBytes: 16_384 }));
    const failure = await store.commit().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(StoreUnavailableError);
    expect(failure).toMatchObject({ path, code: "SQLITE_FULL" });
    expect((failure as Error).message).toBe(
      `task ledger ${path} cannot be written (SQLITE_FULL: database or disk is full); free space or fix permissions, then retry`,
    );
    expect(store.stats.failedCommits).toBe(1);
    expect((await store.loadAll()).map((e) => e.task.spec?.taskId)).toEqual(["t1"]);

    pragmaForTest(store, "max_page_count = 1000000");
    await store.commit();
    expect(await store.loadAll()).toHaveLength(20);
    await store.close();
    expect(await open().loadAll()).toHaveLength(20);
  });

  it.each([
    {
      name: "its directory is a file",
      setUp: () => writeFileSync(join(dir, "nested"), "not a directory"),
    },
    {
      name: "it is not a database",
      setUp: () => (mkdirSync(join(dir, "nested")), writeFileSync(path, "x".repeat(4096))),
    },
    { name: "it is a directory", setUp: () => mkdirSync(path, { recursive: true }) },
  ])("refuses to open a ledger when $name, naming the path", ({ setUp }) => {
    setUp();
    const attempt = (): TaskStore => open();
    expect(attempt).toThrow(StoreUnavailableError);
    expect(attempt).toThrow(`task ledger ${path} cannot be opened (`);
  });

  it("refuses options it cannot honour", () => {
    expect(() => open({ maxBatchRows: 0 })).toThrow(/maxBatchRows/);
    expect(() => open({ synchronous: "sometimes" as "full" })).toThrow(/synchronous/);
  });
});
