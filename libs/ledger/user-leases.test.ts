// The lease rules on every store: memory, SQLite (a real file) and a real
// PostgreSQL. One holder at a time; the same holder renews; a lease that
// runs out goes to the next asker with a larger fencing token; renew and
// release under an old token are refused; tokens are never reused, across a
// release and across reopening the store.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgresServer, type PostgresServer } from "../../test/support/postgres-server.js";
import { createLedgerPool } from "./postgres-pool.js";
import { openPostgresUserLeases } from "./postgres-user-leases.js";
import { openSqliteUserLeases } from "./sqlite-user-leases.js";
import { createMemoryUserLeases, type UserLeaseStore } from "./user-leases.js";

const dir = mkdtempSync(join(tmpdir(), "scalemesh-user-leases-"));
let postgres: PostgresServer;
let postgresUrl = "";
const pools: { end(): Promise<void> }[] = [];

beforeAll(async () => {
  postgres = await startPostgresServer();
  postgresUrl = await postgres.createDatabase();
}, 120_000);
afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.end()));
  await postgres?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens the store anew each call (same file, same database), to see what survives. */
const stores: { name: string; open: () => Promise<UserLeaseStore>; durable: boolean }[] = [
  { name: "memory", open: async () => createMemoryUserLeases(), durable: false },
  { name: "sqlite", open: async () => openSqliteUserLeases(join(dir, "ledger.db")), durable: true },
  {
    name: "postgres",
    open: async () => {
      const pool = createLedgerPool({ url: postgresUrl, max: 4 });
      pools.push(pool);
      return openPostgresUserLeases(pool);
    },
    durable: true,
  },
];

describe.each(stores)("user leases on $name", ({ open, durable }) => {
  const t0 = 1_000_000;

  it("give a lease to one holder at a time, renew it for that holder, and hand it on once it runs out", async () => {
    const leases = await open();
    const a = await leases.acquire("nightly-report", "host-a", 10_000, t0);
    expect(a).toMatchObject({
      acquired: true,
      lease: { holder: "host-a", expiresAtMs: t0 + 10_000 },
    });
    const token = a.lease.fencingToken;
    const b = await leases.acquire("nightly-report", "host-b", 10_000, t0 + 1);
    expect(b).toMatchObject({ acquired: false, lease: { holder: "host-a", fencingToken: token } });
    // The holder asking again keeps its token.
    const again = await leases.acquire("nightly-report", "host-a", 10_000, t0 + 2);
    expect(again).toMatchObject({ acquired: true, lease: { fencingToken: token } });
    const renewed = await leases.renew("nightly-report", "host-a", token, undefined, t0 + 5_000);
    expect(renewed?.expiresAtMs).toBe(t0 + 15_000);
    // Past its expiry, host-b gets it with a larger token; host-a's renew and release are refused.
    const later = t0 + 15_001;
    const taken = await leases.acquire("nightly-report", "host-b", 10_000, later);
    expect(taken.acquired).toBe(true);
    expect(taken.lease.fencingToken).toBeGreaterThan(token);
    expect(
      await leases.renew("nightly-report", "host-a", token, undefined, later + 1),
    ).toBeUndefined();
    expect(await leases.release("nightly-report", "host-a", token, later + 1)).toBe(false);
    expect(
      await leases.renew("nightly-report", "host-b", taken.lease.fencingToken, 20_000, later + 2),
    ).toMatchObject({ expiresAtMs: later + 2 + 20_000, ttlMs: 20_000 });
    await leases.close();
  });

  it("free a lease at a release, and never reuse its fencing token", async () => {
    const leases = await open();
    const first = await leases.acquire("compaction", "a", 60_000, t0);
    expect(await leases.release("compaction", "a", first.lease.fencingToken, t0 + 1)).toBe(true);
    expect(await leases.release("compaction", "a", first.lease.fencingToken, t0 + 2)).toBe(false);
    const second = await leases.acquire("compaction", "b", 60_000, t0 + 3);
    expect(second.acquired).toBe(true);
    expect(second.lease.fencingToken).toBe(first.lease.fencingToken + 1);
    // Another name has tokens of its own.
    expect((await leases.acquire("other", "a", 60_000, t0)).lease.fencingToken).toBe(1);
    await leases.close();
  });

  it.runIf(durable)("keep every lease and its token when the store is opened again", async () => {
    const before = await open();
    const held = await before.acquire("survives", "a", 60_000, t0);
    await before.close();
    const after = await open();
    expect(await after.acquire("survives", "b", 60_000, t0 + 1)).toMatchObject({
      acquired: false,
      lease: { holder: "a", fencingToken: held.lease.fencingToken },
    });
    await after.close();
  });

  it("grant a contested lease to exactly one of many asking at once", async () => {
    const leases = await open();
    const asks = await Promise.all(
      Array.from({ length: 20 }, (_, i) => leases.acquire("contested", `asker-${i}`, 60_000, t0)),
    );
    const winners = asks.filter((ask) => ask.acquired);
    expect(winners).toHaveLength(1);
    for (const ask of asks) expect(ask.lease.holder).toBe(winners[0]?.lease.holder);
    await leases.close();
  });
});
