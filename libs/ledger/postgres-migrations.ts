// The ledger's PostgreSQL schema, as an ordered list of migrations, the
// counterpart of sqlite-migrations.ts. The table scalemesh_schema_migrations
// says which ones a database has; opening applies the missing ones in one
// transaction (DDL is transactional in PostgreSQL), under an advisory lock so
// that coordinators opening one new database together apply each once.
// Append new migrations; never edit one that has shipped.
import type { ClientBase } from "pg";
import {
  checkMigrationOrder,
  missingMigrations,
  type Migration,
  type MigrationResult,
} from "./migration.js";

// Times are milliseconds since the epoch in BIGINT, as in the SQLite file:
// the rows are compared with the task's own protobuf timestamps, and the
// purge cutoff is one, so no time zone or rounding comes between them.
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "tasks table with its state, worker and finish-time indexes",
    sql: `
      CREATE TABLE tasks (
        task_id        TEXT PRIMARY KEY,
        sequence       BIGINT NOT NULL,
        state          INTEGER NOT NULL,
        worker_id      TEXT NOT NULL,
        priority       INTEGER NOT NULL,
        created_at_ms  BIGINT,
        updated_at_ms  BIGINT,
        finished_at_ms BIGINT,
        max_attempts   INTEGER NOT NULL,
        trace_context  TEXT NOT NULL,
        task           BYTEA NOT NULL
      );
      CREATE INDEX tasks_by_state_updated ON tasks (state, updated_at_ms);
      CREATE INDEX tasks_by_worker ON tasks (worker_id);
      CREATE INDEX tasks_by_finished ON tasks (finished_at_ms);
      CREATE INDEX tasks_by_sequence ON tasks (sequence);
    `,
  },
  {
    version: 2,
    description:
      "scaling_events: the autoscaler's decisions with their inputs, for GetScalingHistory",
    sql: `
      CREATE TABLE scaling_events (
        id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at_ms  BIGINT NOT NULL,
        event  JSONB NOT NULL
      );
    `,
  },
  {
    version: 3,
    description: "user_leases: users' named leases with their fencing tokens (the Leases service)",
    sql: `
      CREATE TABLE IF NOT EXISTS user_leases (
        name          TEXT PRIMARY KEY,
        holder        TEXT NOT NULL,
        fencing_token BIGINT NOT NULL,
        expires_at_ms BIGINT NOT NULL,
        ttl_ms        BIGINT NOT NULL
      );
    `,
  },
];

export const POSTGRES_SCHEMA_VERSION: number = POSTGRES_MIGRATIONS.at(-1)?.version ?? 0;

/** Any fixed number: the key of the advisory lock that serialises migrations. */
const MIGRATION_LOCK_KEY = 7_070_715;

const VERSION_TABLE = `
  CREATE TABLE IF NOT EXISTS scalemesh_schema_migrations (
    version     INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
  )`;

/**
 * Brings the database to the latest schema on `client` (a connection of
 * its own: the migration is one transaction). `path` is the url without its
 * password, for the error a newer schema gets.
 */
export async function migratePostgres(
  client: ClientBase,
  path: string,
  migrations: readonly Migration[] = POSTGRES_MIGRATIONS,
): Promise<MigrationResult> {
  checkMigrationOrder(migrations);
  const known = migrations.at(-1)?.version ?? 0;
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
    await client.query(VERSION_TABLE);
    const fromVersion = await schemaVersion(client);
    const applied = missingMigrations(migrations, fromVersion, {
      path,
      hint: "run a newer scalemesh, or point ledger.url at another database",
    });
    for (const migration of applied) {
      await client.query(migration.sql);
      await client.query(
        "INSERT INTO scalemesh_schema_migrations (version, description) VALUES ($1, $2)",
        [migration.version, migration.description],
      );
    }
    await client.query("COMMIT");
    return { fromVersion, toVersion: Math.max(fromVersion, known), applied };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

/** The highest migration the database has (0 for a new one; the version table must exist). */
export async function schemaVersion(client: ClientBase): Promise<number> {
  const { rows } = await client.query<{ version: number }>(
    "SELECT coalesce(max(version), 0) AS version FROM scalemesh_schema_migrations",
  );
  return rows[0]?.version ?? 0;
}
