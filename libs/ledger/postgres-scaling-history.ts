// The scaling history in the PostgreSQL ledger, beside the tasks: the table
// comes from the ledger's migrations (open the task store first). One
// connection of its own, so appends land in the order they were made, and
// each append prunes the oldest beyond maxEvents in the same statement.
import { createLedgerPool } from "./postgres-pool.js";
import { withoutPassword } from "./postgres-url.js";
import type { ScalingEventRecord, ScalingHistory } from "./scaling-history.js";
import { StoreUnavailableError, type StoreOperation } from "./task-store.js";

export interface PostgresScalingHistoryOptions {
  readonly url: string;
  readonly maxEvents?: number;
}

const APPEND = `
  WITH appended AS (
    INSERT INTO scaling_events (at_ms, event) VALUES ($1, $2) RETURNING id
  ), pruned AS (
    DELETE FROM scaling_events WHERE id <= (SELECT id FROM appended) - $3
  )
  SELECT id FROM appended`;

const PAGE = "SELECT id, event FROM scaling_events WHERE id < $1 ORDER BY id DESC LIMIT $2";

export function openPostgresScalingHistory(options: PostgresScalingHistoryOptions): ScalingHistory {
  const path = withoutPassword(options.url);
  const maxEvents = options.maxEvents ?? 10_000;
  const pool = createLedgerPool({ url: options.url, max: 1 });
  const fail = (operation: StoreOperation) => (cause: unknown) => {
    throw new StoreUnavailableError({
      path,
      operation,
      cause,
      hint: "check that the server runs and takes connections",
    });
  };
  return {
    async append(event) {
      const { rows } = await pool
        .query<{ id: string }>(APPEND, [event.atMs, JSON.stringify(event), maxEvents])
        .catch(fail("written"));
      return { ...event, id: Number(rows[0]?.id) };
    },
    async list({ limit, beforeId }) {
      const { rows } = await pool
        .query<{ id: string; event: ScalingEventRecord }>(PAGE, [
          beforeId ?? Number.MAX_SAFE_INTEGER,
          limit,
        ])
        .catch(fail("read"));
      // JSONB comes back parsed; BIGINT as a string.
      return rows.map((row) => ({ ...row.event, id: Number(row.id) }));
    },
    async close() {
      await pool.end();
    },
  };
}
