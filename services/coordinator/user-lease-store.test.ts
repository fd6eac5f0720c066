// Users' leases on a PostgreSQL ledger behind the leader's fence (a real
// server, test/support/postgres-server.ts): a coordinator whose leader lease
// was taken over answers UNAVAILABLE, so its caller retries on the leader,
// and its change is not written.
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgresServer, type PostgresServer } from "../../test/support/postgres-server.js";
import { checkLeaseInTransaction, createLeaderLeaseStore } from "../../libs/ledger/leader-lease.js";
import { Code, toConnectError } from "../../libs/rpc/index.js";
import { openUserLeases } from "./user-lease-store.js";

let postgres: PostgresServer;
beforeAll(async () => {
  postgres = await startPostgresServer();
});
afterAll(() => postgres?.close());

describe("users' leases behind the leader's fence", () => {
  it("answers UNAVAILABLE and writes nothing once another coordinator took the leader lease", async () => {
    const url = await postgres.createDatabase();
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const lease = createLeaderLeaseStore(pool, "coordinator");
    await lease.ensureTable();
    const taken = await lease.tryAcquire("10.0.0.1:7070", 300);
    if (taken.kind !== "acquired") throw new Error("expected the lease");
    const claim = { name: "coordinator", holder: "10.0.0.1:7070", epoch: taken.epoch };
    const leases = await openUserLeases(
      { url, path: ":memory:", synchronous: "full", max_batch_rows: 1000, leader_lease_sec: 3 },
      {
        idleInTransactionTimeoutMs: 1_000,
        check: (client) => checkLeaseInTransaction(client, claim),
        confirm: () => {},
      },
    );
    try {
      expect((await leases.acquire("nightly", "job-a", 60_000, Date.now())).acquired).toBe(true);
      await sleep(350);
      expect((await lease.tryAcquire("10.0.0.2:7070", 5_000)).kind).toBe("acquired");
      const refusal = toConnectError(
        await leases.acquire("other", "job-b", 60_000, Date.now()).catch((error: unknown) => error),
      );
      expect(refusal.code).toBe(Code.Unavailable);
      expect(refusal.rawMessage).toContain("is fenced off the ledger");
      const { rows } = await pool.query<{ name: string }>("SELECT name FROM user_leases");
      expect(rows.map((r) => r.name)).toEqual(["nightly"]);
    } finally {
      await leases.close();
      await pool.end();
    }
  });
});
