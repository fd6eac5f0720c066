// A pool of connections to the PostgreSQL ledger, as the task store and the
// scaling history open it. A connection the server drops (a restart, a
// failover, pg_terminate_backend) is reported by pg as an "error" event; with
// no listener that event would end the process, so the pool and every
// checked-out connection carry one. The query that needed the connection
// still fails, and the store turns that into its own error.
import pg from "pg";
import type { PoolClient } from "pg";

export interface LedgerPoolOptions {
  readonly url: string;
  /** Connections at most. */
  readonly max: number;
  /** How long opening a connection may take before the store reports it unavailable. Default 5000. */
  readonly connectTimeoutMs?: number;
  /** How long one statement may wait for its answer (a server that hangs). Default 30000. */
  readonly queryTimeoutMs?: number;
  /**
   * The server ends a session left idle this long inside a transaction
   * (idle_in_transaction_session_timeout), so a writer frozen mid-commit
   * cannot hold its locks (the leader lease row among them) for ever.
   */
  readonly idleInTransactionTimeoutMs?: number;
}

export function createLedgerPool(options: LedgerPoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    query_timeout: options.queryTimeoutMs ?? 30_000,
    application_name: "scalemesh-coordinator",
    ...(options.idleInTransactionTimeoutMs !== undefined
      ? { idle_in_transaction_session_timeout: Math.round(options.idleInTransactionTimeoutMs) }
      : {}),
  });
  // An idle connection lost: pg-pool has removed it already. Never log the
  // error itself: pg sets error.client, whose parameters hold the password.
  pool.on("error", () => undefined);
  return pool;
}

/** Runs `use` on a connection of its own; a connection that failed is closed instead of going back to the pool. */
export async function withConnection<T>(
  pool: pg.Pool,
  use: (client: PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let failure: unknown;
  const onError = (error: Error): void => void (failure ??= error);
  client.on("error", onError);
  try {
    return await use(client);
  } catch (error) {
    failure ??= error;
    throw error;
  } finally {
    client.off("error", onError);
    client.release(failure === undefined ? undefined : true);
  }
}

/** Runs `use` between BEGIN and COMMIT on a connection of its own; ROLLBACK when it throws. */
export function inTransaction<T>(
  pool: pg.Pool,
  use: (client: PoolClient) => Promise<T>,
): Promise<T> {
  return withConnection(pool, async (client) => {
    await client.query("BEGIN");
    try {
      const result = await use(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    }
  });
}
