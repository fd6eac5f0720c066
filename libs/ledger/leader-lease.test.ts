// The leader lease and its fence against a real PostgreSQL
// (test/support/postgres-server.ts): who gets it, when it can be taken over,
// and that a commit under an old epoch, or one in flight during a takeover,
// cannot slip through.
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startPostgresServer, type PostgresServer } from "../../test/support/postgres-server.js";
import { TaskState } from "../contracts/index.js";
import { createLedgerPool } from "./postgres-pool.js";
import { openPostgresTaskStore } from "./postgres-task-store.js";
import { storedTask } from "./testing/stored-tasks.js";
import {
  FencedError,
  checkLeaseInTransaction,
  createLeaderLeaseStore,
  type LeaderLeaseStore,
  type LeaseClaim,
} from "./leader-lease.js";

let postgres: PostgresServer;
beforeAll(async () => {
  postgres = await startPostgresServer();
});
afterAll(() => postgres?.close());

const pools: pg.Pool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.end()));
});

async function freshLease(): Promise<{ lease: LeaderLeaseStore; pool: pg.Pool }> {
  return freshLeaseAt(await postgres.createDatabase());
}

async function freshLeaseAt(url: string): Promise<{ lease: LeaderLeaseStore; pool: pg.Pool }> {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pools.push(pool);
  const lease = createLeaderLeaseStore(pool, "coordinator");
  await lease.ensureTable();
  return { lease, pool };
}

async function acquired(
  lease: LeaderLeaseStore,
  holder: string,
  ttlMs: number,
): Promise<LeaseClaim> {
  const outcome = await lease.tryAcquire(holder, ttlMs);
  if (outcome.kind !== "acquired")
    throw new Error(`${holder} did not get the lease: ${JSON.stringify(outcome)}`);
  return { name: "coordinator", holder, epoch: outcome.epoch };
}

/** Runs the fence check in a transaction of its own, then commits; rejects with what the check threw. */
async function commitUnder(pool: pg.Pool, claim: LeaseClaim): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await checkLeaseInTransaction(client, claim);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  } finally {
    client.release();
  }
}

describe("leader lease", () => {
  it("goes to the first replica at epoch 1; the next one hears who holds it", async () => {
    const { lease } = await freshLease();
    expect(await lease.tryAcquire("10.0.0.1:7070", 5_000)).toEqual({ kind: "acquired", epoch: 1 });
    const second = await lease.tryAcquire("10.0.0.2:7070", 5_000);
    expect(second.kind).toBe("held");
    if (second.kind !== "held") return;
    expect(second.row.holder).toBe("10.0.0.1:7070");
    expect(second.row.epoch).toBe(1);
    expect(second.row.expiresInMs).toBeGreaterThan(4_000);
  });

  it("is renewed by its holder while it runs, and taken over with epoch+1 only once it expired", async () => {
    const { lease } = await freshLease();
    const first = await acquired(lease, "10.0.0.1:7070", 300);
    await sleep(200);
    expect(await lease.renew(first, 300)).toBe(true);
    await sleep(200);
    // Renewed 200 ms ago for 300 ms: still held.
    expect((await lease.tryAcquire("10.0.0.2:7070", 300)).kind).toBe("held");
    await sleep(200);
    const second = await acquired(lease, "10.0.0.2:7070", 5_000);
    expect(second.epoch).toBe(2);
    // The former holder cannot renew its way back.
    expect(await lease.renew(first, 300)).toBe(false);
    expect((await lease.read())?.holder).toBe("10.0.0.2:7070");
  });

  it("cannot be renewed by its holder once it expired (a paused leader that wakes up)", async () => {
    const { lease } = await freshLease();
    const claim = await acquired(lease, "10.0.0.1:7070", 100);
    await sleep(150);
    expect(await lease.renew(claim, 5_000)).toBe(false);
  });

  it("released on a graceful stop, is taken at once", async () => {
    const { lease } = await freshLease();
    const first = await acquired(lease, "10.0.0.1:7070", 60_000);
    await lease.release(first);
    expect(await lease.tryAcquire("10.0.0.2:7070", 60_000)).toEqual({ kind: "acquired", epoch: 2 });
  });

  it("is created once when replicas race to create its table", async () => {
    const url = await postgres.createDatabase();
    const leases = Array.from({ length: 4 }, () => {
      const pool = new pg.Pool({ connectionString: url, max: 1 });
      pools.push(pool);
      return createLeaderLeaseStore(pool, "coordinator");
    });
    await Promise.all(leases.map((lease) => lease.ensureTable()));
    const outcomes = await Promise.all(
      leases.map((lease, i) => lease.tryAcquire(`h${i}:7070`, 5_000)),
    );
    expect(outcomes.filter((o) => o.kind === "acquired")).toHaveLength(1);
  });
});

describe("fencing a commit", () => {
  it("lets the current holder's commit through", async () => {
    const { lease, pool } = await freshLease();
    const claim = await acquired(lease, "10.0.0.1:7070", 5_000);
    await expect(commitUnder(pool, claim)).resolves.toBeUndefined();
  });

  it("refuses a commit under an older epoch, naming the newer one and its holder", async () => {
    const { lease, pool } = await freshLease();
    const old = await acquired(lease, "10.0.0.1:7070", 100);
    await sleep(150);
    await acquired(lease, "10.0.0.2:7070", 5_000);
    const refusal = await commitUnder(pool, old).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(FencedError);
    expect((refusal as Error).message).toContain("the lease is at epoch 2, held by 10.0.0.2:7070");
  });

  it("refuses a commit once the lease expired, even before anyone took it over", async () => {
    const { lease, pool } = await freshLease();
    const claim = await acquired(lease, "10.0.0.1:7070", 100);
    await sleep(150);
    const refusal = await commitUnder(pool, claim).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(FencedError);
    expect((refusal as Error).message).toMatch(/the lease expired \d+ ms ago/);
  });

  it("holds a takeover back until a commit that passed the check has ended", async () => {
    const { lease, pool } = await freshLease();
    const claim = await acquired(lease, "10.0.0.1:7070", 300);
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      await checkLeaseInTransaction(client, claim);
      // The lease expires while the transaction is open; the takeover must wait for it.
      await sleep(400);
      let isTakenOver = false;
      const takeover = lease.tryAcquire("10.0.0.2:7070", 5_000).then((outcome) => {
        isTakenOver = true;
        return outcome;
      });
      await sleep(300);
      expect(isTakenOver).toBe(false);
      await client.query("COMMIT");
      expect(await takeover).toEqual({ kind: "acquired", epoch: 2 });
    } finally {
      client.release();
    }
  });
});

describe("a writer frozen inside a commit transaction", () => {
  it("holds a takeover back only until the database ends its idle session, and then cannot commit", async () => {
    const url = await postgres.createDatabase();
    const { lease } = await freshLeaseAt(url);
    const claim = await acquired(lease, "10.0.0.1:7070", 300);
    const writers = createLedgerPool({ url, max: 1, idleInTransactionTimeoutMs: 500 });
    pools.push(writers);
    const client = await writers.connect();
    client.on("error", () => undefined);
    await client.query("BEGIN");
    await checkLeaseInTransaction(client, claim);
    // Frozen from here (a SIGSTOP between two statements): the lease row stays held FOR SHARE.
    const startedAtMs = Date.now();
    expect(await lease.tryAcquire("10.0.0.2:7070", 5_000)).toEqual({ kind: "acquired", epoch: 2 });
    // Not before the lease ran out, and only once the server had ended the frozen session.
    expect(Date.now() - startedAtMs).toBeGreaterThanOrEqual(300);
    await expect(client.query("COMMIT")).rejects.toThrow();
    client.release(true);
  });
});

describe("the PostgreSQL task store behind a fence", () => {
  it("writes under the current epoch, and refuses (writing nothing) once another holder took over", async () => {
    const url = await postgres.createDatabase();
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    pools.push(pool);
    const lease = createLeaderLeaseStore(pool, "coordinator");
    await lease.ensureTable();
    const claim = await acquired(lease, "10.0.0.1:7070", 300);
    const store = await openPostgresTaskStore({
      url,
      fence: {
        idleInTransactionTimeoutMs: 1_000,
        check: (client) => checkLeaseInTransaction(client, claim),
        confirm: () => {},
      },
    });
    try {
      store.save(storedTask({ id: "before", sequence: 1, state: TaskState.PENDING }));
      await store.commit();
      await sleep(350);
      await acquired(lease, "10.0.0.2:7070", 5_000);
      store.save(storedTask({ id: "after", sequence: 2, state: TaskState.PENDING }));
      await expect(store.commit()).rejects.toBeInstanceOf(FencedError);
      await expect(store.purgeFinishedBefore(Date.now())).rejects.toBeInstanceOf(FencedError);
      const { rows } = await pool.query<{ task_id: string }>("SELECT task_id FROM tasks");
      expect(rows.map((r) => r.task_id)).toEqual(["before"]);
    } finally {
      await store.close().catch(() => undefined);
    }
  });
});
