// The PostgreSQL store against a real server (test/support/postgres-server.ts):
// a batch that fails whole, a server that stops and comes back, a server that
// is not there. The TaskStore contract, and what survives a reopen, are
// checked in task-store.test.ts.
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startPostgresServer, type PostgresServer } from "../../test/support/postgres-server.js";
import { freePort } from "../../test/support/etcd-server.js";
import { TaskState } from "../contracts/index.js";
import { openPostgresTaskStore, type PostgresTaskStoreOptions } from "./postgres-task-store.js";
import { StoreUnavailableError, type TaskStore } from "./task-store.js";
import { recordingObserver } from "./testing/recording-observer.js";
import { sameStoredTasks, storedTask } from "./testing/stored-tasks.js";

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgresServer();
});
afterAll(() => server?.close());

const opened: TaskStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

async function open(
  options: Partial<PostgresTaskStoreOptions> & { url: string },
): Promise<TaskStore> {
  const store = await openPostgresTaskStore(options);
  opened.push(store);
  return store;
}

async function query<R extends pg.QueryResultRow>(
  url: string,
  sql: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

const ids = async (store: TaskStore): Promise<string[]> =>
  (await store.loadAll()).map((e) => e.task.spec?.taskId ?? "");

describe("PostgreSQL task store", () => {
  it("writes a batch whole or not at all, keeps a failed one queued, and writes it once the bad row is saved again", async () => {
    const url = await server.createDatabase();
    const store = await open({ url });
    for (let i = 1; i <= 5; i += 1) store.save(storedTask({ id: `t${i}`, sequence: i }));
    // PostgreSQL text cannot hold a NUL: this row fails the whole transaction.
    const bad = storedTask({ id: "t6", sequence: 6, state: TaskState.ASSIGNED, workerId: "w\0" });
    store.save(bad);
    const failure = await store.commit().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(StoreUnavailableError);
    expect(failure).toMatchObject({ code: "22021" });
    expect(await ids(store)).toEqual([]);
    bad.task.workerId = "w6";
    store.save(bad);
    await store.commit();
    expect(await ids(store)).toEqual(["t1", "t2", "t3", "t4", "t5", "t6"]);
    expect(store.stats).toMatchObject({ commits: 1, failedCommits: 1, rowsWritten: 6 });
  });

  it("fails commits while the server is down, naming the url without its password, and writes the queued rows once it is back", async () => {
    const database = (await server.createDatabase()).split("/").at(-1) ?? "";
    const url = server.url(database, "s3cret");
    const { observer, failures } = recordingObserver();
    const store = await open({ url, observer, connectTimeoutMs: 2000 });
    store.save(storedTask({ id: "before", sequence: 1 }));
    await store.commit();

    await server.stop();
    try {
      store.save(storedTask({ id: "during", sequence: 2 }));
      const failure = await store.commit().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(StoreUnavailableError);
      const message = (failure as Error).message;
      expect(message).toContain(
        `task ledger postgres://postgres@127.0.0.1:${server.port}/${database} cannot be written (`,
      );
      expect(message).toContain("the rows stay queued and are written once it does");
      expect(message).not.toContain("s3cret");
      expect(failures()).toBe(1);
      await expect(store.loadAll()).rejects.toThrow(/cannot be read/);
      await expect(store.purgeFinishedBefore(Date.now())).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
    } finally {
      await server.start();
    }
    await store.commit();
    expect(await ids(store)).toEqual(["before", "during"]);
  });

  it("refuses to open a database nobody serves, naming the url without its password", async () => {
    const port = await freePort();
    const url = `postgres://scalemesh:s3cret@127.0.0.1:${port}/ledger`;
    const failure = await openPostgresTaskStore({ url, connectTimeoutMs: 2000 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(StoreUnavailableError);
    expect((failure as Error).message).toMatch(
      new RegExp(
        `^task ledger postgres://scalemesh@127\\.0\\.0\\.1:${port}/ledger cannot be opened \\(ECONNREFUSED`,
      ),
    );
    expect((failure as Error).message).not.toContain("s3cret");
  });

  it("refuses to open a database that does not exist, with the server's own code", async () => {
    await expect(
      openPostgresTaskStore({ url: server.url("no_such_ledger") }),
    ).rejects.toMatchObject({
      name: "StoreUnavailableError",
      code: "3D000",
    });
  });

  it("refuses options it cannot honour", async () => {
    await expect(openPostgresTaskStore({ url: server.url("x"), maxBatchRows: 0 })).rejects.toThrow(
      /maxBatchRows/,
    );
    await expect(openPostgresTaskStore({ url: "mysql://db/x" })).rejects.toThrow(/postgres:\/\//);
  });
});
