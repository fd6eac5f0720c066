// The election loop over a real PostgreSQL (test/support/postgres-server.ts):
// two replicas, one leads; a graceful stop hands over at once; a leader that
// cannot renew, or whose lease ran out while it was away (its monotonic clock
// moved on, as through a SIGSTOP), steps down and cannot commit.
import pg from "pg";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startPostgresServer, type PostgresServer } from "../../test/support/postgres-server.js";
import { FencedError, createLeaderLeaseStore } from "../../libs/ledger/leader-lease.js";
import { startLeaderElection, type LeaderElection } from "./leader-election.js";

let postgres: PostgresServer;
beforeAll(async () => {
  postgres = await startPostgresServer();
});
afterAll(() => postgres?.close());

const logger = pino({ level: "silent" });
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

interface Replica {
  readonly election: LeaderElection;
  readonly pool: pg.Pool;
  /** Reasons it was told it lost the lease. */
  readonly lost: string[];
  /** Moves its monotonic clock on, as a pause would. */
  jump(ms: number): void;
}

async function replica(url: string, holder: string, ttlMs: number): Promise<Replica> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on("error", () => undefined);
  const lease = createLeaderLeaseStore(pool, "coordinator");
  await lease.ensureTable();
  const lost: string[] = [];
  let offsetMs = 0;
  const election = startLeaderElection({
    lease,
    name: "coordinator",
    holder,
    ttlMs,
    logger,
    onLost: (reason) => lost.push(reason),
    monotonicNow: () => performance.now() + offsetMs,
  });
  cleanups.push(() => pool.end());
  cleanups.push(() => election.stop());
  return { election, pool, lost, jump: (ms) => (offsetMs += ms) };
}

/** A commit the way the PostgreSQL store makes one: check in the transaction, then confirm after it. */
async function commit(r: Replica): Promise<void> {
  const client = await r.pool.connect();
  try {
    await client.query("BEGIN");
    await r.election.check(client);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  } finally {
    client.release();
  }
  r.election.confirm();
}

async function until(what: string, timeoutMs: number, check: () => boolean): Promise<number> {
  const startedAt = performance.now();
  while (!check()) {
    if (performance.now() - startedAt > timeoutMs)
      throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return performance.now() - startedAt;
}

describe("leader election", () => {
  it("makes one of two replicas leader; the other stands by, names it, and cannot commit", async () => {
    const url = await postgres.createDatabase();
    const a = await replica(url, "10.0.0.1:7070", 3_000);
    await a.election.leading;
    const b = await replica(url, "10.0.0.2:7070", 3_000);
    await until("b reads the lease", 2_000, () => b.election.leaderAddress !== undefined);
    expect(a.election.isLeader).toBe(true);
    expect(b.election.isLeader).toBe(false);
    expect(b.election.leaderAddress).toBe("10.0.0.1:7070");
    await expect(commit(a)).resolves.toBeUndefined();
    await expect(commit(b)).rejects.toBeInstanceOf(FencedError);
  });

  it("hands over at once when the leader stops gracefully (it releases the lease)", async () => {
    const url = await postgres.createDatabase();
    const a = await replica(url, "10.0.0.1:7070", 60_000);
    await a.election.leading;
    const b = await replica(url, "10.0.0.2:7070", 60_000);
    await until("b reads the lease", 2_000, () => b.election.leaderAddress !== undefined);
    await a.election.stop();
    // Far below the 60 s ttl: the standby took the released lease on its next look.
    const claim = await b.election.leading;
    expect(claim.epoch).toBe(2);
    await expect(commit(a)).rejects.toBeInstanceOf(FencedError);
    await expect(commit(b)).resolves.toBeUndefined();
  });

  it("steps a leader down when its lease ran out while it was away, and refuses its commits", async () => {
    const url = await postgres.createDatabase();
    const a = await replica(url, "10.0.0.1:7070", 2_000);
    await a.election.leading;
    // As if frozen for 2.5 s: its clock moved on, no renewal went out.
    a.jump(2_500);
    const refusal = await commit(a).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(FencedError);
    expect((refusal as Error).message).toMatch(/lease ran out \d+ ms ago/);
    expect(a.lost).toHaveLength(1);
    expect(a.election.isLeader).toBe(false);
  });

  it("steps a leader down that cannot reach the database within its ttl; a standby leads after it", async () => {
    const url = await postgres.createDatabase();
    const a = await replica(url, "10.0.0.1:7070", 1_500);
    await a.election.leading;
    const b = await replica(url, "10.0.0.2:7070", 1_500);
    await until("b reads the lease", 2_000, () => b.election.leaderAddress !== undefined);
    // Every renewal fails from here on.
    await a.pool.end();
    await until("a steps down", 5_000, () => a.lost.length > 0);
    await b.election.leading;
    expect(a.lost[0]).toContain("not renewed within its 1500 ms ttl");
    // The database agrees: b's epoch is newer, and a's last claim is refused there too.
    expect(b.election.isLeader).toBe(true);
    await expect(commit(b)).resolves.toBeUndefined();
  });
});
