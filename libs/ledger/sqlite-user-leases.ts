// Users' leases in the SQLite ledger's file: their own table, written
// through a connection of their own in an IMMEDIATE transaction (one writer
// at a time), fully synced before the answer, so a granted lease and its
// fencing token outlive a crash of the coordinator.
import Database from "better-sqlite3";
import { migrate } from "./sqlite-migrations.js";
import { userLeaseStoreOver, type UserLease, type UserLeaseStore } from "./user-leases.js";

interface LeaseRow {
  name: string;
  holder: string;
  fencing_token: number;
  expires_at_ms: number;
  ttl_ms: number;
}

export function openSqliteUserLeases(path: string): UserLeaseStore {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("busy_timeout = 5000");
  // The table comes with the ledger's migrations (version 3); idempotent when the task store ran them.
  migrate(db, path);
  const read = db.prepare<[string], LeaseRow>("SELECT * FROM user_leases WHERE name = ?");
  const write = db.prepare(
    `INSERT INTO user_leases (name, holder, fencing_token, expires_at_ms, ttl_ms)
     VALUES (@name, @holder, @fencingToken, @expiresAtMs, @ttlMs)
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
       fencing_token = excluded.fencing_token, expires_at_ms = excluded.expires_at_ms,
       ttl_ms = excluded.ttl_ms`,
  );
  return userLeaseStoreOver(
    async (name, body) =>
      db
        .transaction(() => {
          const row = read.get(name);
          const { write: next, answer } = body(row ? leaseOf(row) : undefined);
          if (next) write.run(next);
          return answer;
        })
        .immediate(),
    async () => void db.close(),
  );
}

function leaseOf(row: LeaseRow): UserLease {
  return {
    name: row.name,
    holder: row.holder,
    fencingToken: row.fencing_token,
    expiresAtMs: row.expires_at_ms,
    ttlMs: row.ttl_ms,
  };
}
