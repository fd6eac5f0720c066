// The ledger's SQLite schema, as an ordered list of migrations. The file's
// `PRAGMA user_version` says which ones it has; opening applies the missing
// ones in one transaction, so a file is either at the old version or the new,
// never between. Append new migrations; never edit one that has shipped.
import type { Database } from "better-sqlite3";
import {
  checkMigrationOrder,
  missingMigrations,
  type Migration,
  type MigrationResult,
} from "./migration.js";

export { SchemaVersionError, type Migration, type MigrationResult } from "./migration.js";

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "tasks table with its state, worker and finish-time indexes",
    sql: `
      CREATE TABLE tasks (
        task_id        TEXT PRIMARY KEY,
        sequence       INTEGER NOT NULL,
        state          INTEGER NOT NULL,
        worker_id      TEXT NOT NULL,
        priority       INTEGER NOT NULL,
        created_at_ms  INTEGER,
        updated_at_ms  INTEGER,
        finished_at_ms INTEGER,
        max_attempts   INTEGER NOT NULL,
        trace_context  TEXT NOT NULL,
        task           BLOB NOT NULL
      );
      CREATE INDEX tasks_by_state_updated ON tasks (state, updated_at_ms);
      CREATE INDEX tasks_by_worker ON tasks (worker_id);
      CREATE INDEX tasks_by_finished ON tasks (finished_at_ms);
    `,
  },
  {
    version: 2,
    description:
      "scaling_events: the autoscaler's decisions with their inputs, for GetScalingHistory",
    sql: `
      CREATE TABLE scaling_events (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms  INTEGER NOT NULL,
        event  TEXT NOT NULL
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
        fencing_token INTEGER NOT NULL,
        expires_at_ms INTEGER NOT NULL,
        ttl_ms        INTEGER NOT NULL
      );
    `,
  },
];

export const LATEST_SCHEMA_VERSION: number = MIGRATIONS.at(-1)?.version ?? 0;

export function migrate(
  db: Database,
  path: string,
  migrations: readonly Migration[] = MIGRATIONS,
): MigrationResult {
  checkMigrationOrder(migrations);
  const known = migrations.at(-1)?.version ?? 0;
  // IMMEDIATE takes the write lock before reading the version, so two
  // processes opening one new file cannot both apply the same migration.
  return db
    .transaction((): MigrationResult => {
      const fromVersion = userVersion(db);
      const applied = missingMigrations(migrations, fromVersion, { path });
      for (const migration of applied) {
        db.exec(migration.sql);
        db.pragma(`user_version = ${migration.version}`);
      }
      return { fromVersion, toVersion: Math.max(fromVersion, known), applied };
    })
    .immediate();
}

export function userVersion(db: Database): number {
  return db.pragma("user_version", { simple: true }) as number;
}
