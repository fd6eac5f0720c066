// Users' leases in the PostgreSQL ledger: a table of their own, each change
// one transaction that locks the lease's row (SELECT ... FOR UPDATE, after an
// insert that makes sure there is one), so two coordinators or two requests
// can never both grant it. Committed before the answer; a takeover finds
// every lease and its fencing token where the old leader left them.
import type pg from "pg";
import type { WriteFence } from "./leader-lease.js";
import { migratePostgres } from "./postgres-migrations.js";
import { inTransaction, withConnection } from "./postgres-pool.js";
import { withoutPassword } from "./postgres-url.js";
import { userLeaseStoreOver, type UserLease, type UserLeaseStore } from "./user-leases.js";

export async function openPostgresUserLeases(
  pool: pg.Pool,
  /** With coordinator replicas: only the leader's changes go through (leader-lease.ts). */
  fence?: WriteFence,
): Promise<UserLeaseStore> {
  // The table comes with the ledger's migrations (version 3); idempotent when the task store ran them.
  const where = withoutPassword(pool.options.connectionString ?? "");
  await withConnection(pool, (client) => migratePostgres(client, where));
  return userLeaseStoreOver(
    (name, body) =>
      inTransaction(pool, async (client) => {
        await fence?.check(client);
        await client.query(
          "INSERT INTO user_leases VALUES ($1, '', 0, 0, 0) ON CONFLICT (name) DO NOTHING",
          [name],
        );
        const { rows } = await client.query<{
          holder: string;
          fencing_token: string;
          expires_at_ms: string;
          ttl_ms: string;
        }>("SELECT * FROM user_leases WHERE name = $1 FOR UPDATE", [name]);
        const row = rows[0];
        const current: UserLease | undefined =
          row && Number(row.fencing_token) > 0
            ? {
                name,
                holder: row.holder,
                fencingToken: Number(row.fencing_token),
                expiresAtMs: Number(row.expires_at_ms),
                ttlMs: Number(row.ttl_ms),
              }
            : undefined;
        const { write, answer } = body(current);
        if (write)
          await client.query(
            `UPDATE user_leases SET holder = $2, fencing_token = $3, expires_at_ms = $4, ttl_ms = $5
             WHERE name = $1`,
            [name, write.holder, write.fencingToken, write.expiresAtMs, write.ttlMs],
          );
        return answer;
      }).then((answer) => {
        // Nobody hears of a change from a leader whose lease ran out meanwhile.
        fence?.confirm();
        return answer;
      }),
    async () => undefined,
  );
}
