// Where the coordinator keeps users' leases: beside its tasks. PostgreSQL
// (ledger.url) through a small pool of its own, the SQLite ledger file, or
// memory for ":memory:". On PostgreSQL every lease change locks its row, so
// whichever coordinator answers, the row decides.
import type { Config } from "../../libs/config/index.js";
import { createLedgerPool } from "../../libs/ledger/postgres-pool.js";
import { openPostgresUserLeases } from "../../libs/ledger/postgres-user-leases.js";
import { openSqliteUserLeases } from "../../libs/ledger/sqlite-user-leases.js";
import { FencedError, type WriteFence } from "../../libs/ledger/leader-lease.js";
import { unavailable } from "../../libs/rpc/index.js";
import { createMemoryUserLeases, type UserLeaseStore } from "../../libs/ledger/user-leases.js";

export async function openUserLeases(
  ledger: Config["ledger"],
  /** The leader lease every PostgreSQL change is checked against (coordinator replicas). */
  fence?: WriteFence,
): Promise<UserLeaseStore> {
  if (ledger.url !== "") {
    const pool = createLedgerPool({
      url: ledger.url,
      max: 2,
      ...(fence ? { idleInTransactionTimeoutMs: fence.idleInTransactionTimeoutMs } : {}),
    });
    const leases = await openPostgresUserLeases(pool, fence).catch(async (error: unknown) => {
      await pool.end();
      throw error;
    });
    return unavailableWhenFenced({ ...leases, close: async () => void (await pool.end()) });
  }
  if (ledger.path === ":memory:") return createMemoryUserLeases();
  return openSqliteUserLeases(ledger.path);
}

/** A change refused by the fence (another coordinator leads now) answers UNAVAILABLE, to be retried there, not INTERNAL. */
function unavailableWhenFenced(store: UserLeaseStore): UserLeaseStore {
  const refuse = (error: unknown): never => {
    throw error instanceof FencedError ? unavailable(error.message) : error;
  };
  return {
    acquire: (...args) => store.acquire(...args).catch(refuse),
    renew: (...args) => store.renew(...args).catch(refuse),
    release: (...args) => store.release(...args).catch(refuse),
    close: () => store.close(),
  };
}
