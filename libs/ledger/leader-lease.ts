// The coordinator leader's lease, kept in the PostgreSQL ledger itself: one
// row per lease name in coordinator_leader(name, holder, epoch, expires_at).
// A replica takes the lease only once it has expired, and taking it bumps the
// epoch; the holder renews it while holder and epoch still match. Every commit
// of the ledger checks the row inside its own transaction (FOR SHARE, so a
// takeover waits for that transaction instead of slipping in mid-way), which
// is the fence: a former leader that wakes up from a pause finds a newer epoch
// or an expired row and cannot write. Times are the database's
// (clock_timestamp()), so the replicas' own clocks never decide who leads.
import type { ClientBase, Pool } from "pg";

export const LEADER_LEASE_TABLE_SQL = `
CREATE TABLE IF NOT EXISTS coordinator_leader (
  name text PRIMARY KEY,
  holder text NOT NULL,
  epoch bigint NOT NULL,
  expires_at timestamptz NOT NULL
)`;

/** Who holds a lease, as the row says; `expiresInMs` by the database's clock (negative once expired). */
export interface LeaseRow {
  readonly holder: string;
  readonly epoch: number;
  readonly expiresInMs: number;
}

export type AcquireOutcome =
  | { readonly kind: "acquired"; readonly epoch: number }
  | { readonly kind: "held"; readonly row: LeaseRow };

/** The lease a process believes it holds: what every commit is checked against. */
export interface LeaseClaim {
  readonly name: string;
  readonly holder: string;
  readonly epoch: number;
}

export interface LeaderLeaseStore {
  /** Creates the table if it is missing (safe when replicas race to do it). */
  ensureTable(): Promise<void>;
  /** Takes the lease if nobody holds it or it expired (epoch + 1); otherwise says who holds it. */
  tryAcquire(holder: string, ttlMs: number): Promise<AcquireOutcome>;
  /** Extends the lease by ttlMs from now; false when holder and epoch no longer match or it already expired. */
  renew(claim: LeaseClaim, ttlMs: number): Promise<boolean>;
  /** Lets the lease expire now (a graceful stop), so a standby need not wait out the ttl. */
  release(claim: LeaseClaim): Promise<void>;
  read(): Promise<LeaseRow | undefined>;
}

const SELECT_ROW = `SELECT holder, epoch::text AS epoch,
  (EXTRACT(EPOCH FROM (expires_at - clock_timestamp())) * 1000)::float8 AS expires_in_ms
  FROM coordinator_leader WHERE name = $1`;

interface RawRow {
  readonly holder: string;
  readonly epoch: string;
  readonly expires_in_ms: number;
}

function toLeaseRow(raw: RawRow): LeaseRow {
  return { holder: raw.holder, epoch: Number(raw.epoch), expiresInMs: raw.expires_in_ms };
}

/** The lease named `name` over `pool` (its own pool: renewals must not queue behind the store's commits). */
export function createLeaderLeaseStore(pool: Pool, name: string): LeaderLeaseStore {
  const read = async (): Promise<LeaseRow | undefined> => {
    const result = await pool.query<RawRow>(SELECT_ROW, [name]);
    const raw = result.rows[0];
    return raw ? toLeaseRow(raw) : undefined;
  };
  return {
    async ensureTable() {
      try {
        await pool.query(LEADER_LEASE_TABLE_SQL);
      } catch (error) {
        // Two replicas creating it at once: one of them gets a unique violation on the catalog.
        if (sqlState(error) !== "23505" && sqlState(error) !== "42P07") throw error;
      }
    },
    async tryAcquire(holder, ttlMs) {
      const taken = await pool.query<{ epoch: string }>(
        `INSERT INTO coordinator_leader (name, holder, epoch, expires_at)
           VALUES ($1, $2, 1, clock_timestamp() + $3 * interval '1 millisecond')
         ON CONFLICT (name) DO UPDATE
           SET holder = EXCLUDED.holder, epoch = coordinator_leader.epoch + 1,
               expires_at = EXCLUDED.expires_at
           WHERE coordinator_leader.expires_at <= clock_timestamp()
         RETURNING epoch::text AS epoch`,
        [name, holder, ttlMs],
      );
      const epoch = taken.rows[0]?.epoch;
      if (epoch !== undefined) return { kind: "acquired", epoch: Number(epoch) };
      const row = await read();
      // Released or expired between the two statements: the next try takes it.
      return { kind: "held", row: row ?? { holder: "", epoch: 0, expiresInMs: 0 } };
    },
    async renew(claim, ttlMs) {
      const result = await pool.query(
        `UPDATE coordinator_leader SET expires_at = clock_timestamp() + $4 * interval '1 millisecond'
           WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > clock_timestamp()`,
        [claim.name, claim.holder, claim.epoch, ttlMs],
      );
      return result.rowCount === 1;
    },
    async release(claim) {
      await pool.query(
        `UPDATE coordinator_leader SET expires_at = clock_timestamp()
           WHERE name = $1 AND holder = $2 AND epoch = $3`,
        [claim.name, claim.holder, claim.epoch],
      );
    },
    read,
  };
}

/** A write refused because the writer no longer holds the leader lease it wrote under. */
export class FencedError extends Error {
  override readonly name = "FencedError";
  constructor(
    readonly claim: LeaseClaim | undefined,
    reason: string,
  ) {
    super(
      `${claim ? `epoch ${claim.epoch} of lease "${claim.name}"` : "this coordinator"} is fenced off the ledger: ${reason}; another coordinator leads`,
    );
  }
}

/**
 * Inside a commit transaction, before its writes: holds the lease row (FOR
 * SHARE, until the transaction ends) and throws FencedError unless it still
 * names this holder and epoch and has not expired.
 */
export async function checkLeaseInTransaction(
  client: ClientBase,
  claim: LeaseClaim,
): Promise<void> {
  const held = await client.query(
    `SELECT 1 FROM coordinator_leader
       WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > clock_timestamp()
       FOR SHARE`,
    [claim.name, claim.holder, claim.epoch],
  );
  if (held.rowCount === 1) return;
  const now = await client.query<RawRow>(SELECT_ROW, [claim.name]);
  const raw = now.rows[0];
  const row = raw ? toLeaseRow(raw) : undefined;
  throw new FencedError(
    claim,
    row === undefined
      ? "the lease row is gone"
      : row.epoch !== claim.epoch || row.holder !== claim.holder
        ? `the lease is at epoch ${row.epoch}, held by ${row.holder}`
        : `the lease expired ${Math.round(-row.expiresInMs)} ms ago`,
  );
}

/**
 * What a store's commit calls when writes must come from the leader only
 * (the PostgreSQL store with coordinator replicas).
 */
export interface WriteFence {
  /**
   * What the store gives its write connections as idle_in_transaction_session_timeout:
   * a writer frozen inside a commit transaction (SIGSTOP) holds the lease row
   * FOR SHARE, which would hold a takeover back until it woke; the server
   * ends that session after this long instead, well within the lease.
   */
  readonly idleInTransactionTimeoutMs: number;
  /** Inside the commit transaction, before its writes; throws FencedError when this process may not write. */
  check(client: ClientBase): Promise<void>;
  /**
   * After the transaction committed, before anyone is told: throws
   * FencedError if the lease ran out meanwhile (a pause mid-commit). The rows
   * are written, but nobody hears of them from a leader past its lease.
   */
  confirm(): void;
}

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}
