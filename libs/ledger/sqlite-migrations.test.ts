import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  LATEST_SCHEMA_VERSION,
  migrate,
  MIGRATIONS,
  SchemaVersionError,
  userVersion,
  type Migration,
} from "./sqlite-migrations.js";
import { openSqliteTaskStore } from "./sqlite-task-store.js";

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "scalemesh-migrations-"));
  path = join(dir, "ledger.db");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function withDatabase<T>(use: (db: Database.Database) => T): T {
  const db = new Database(path);
  try {
    return use(db);
  } finally {
    db.close();
  }
}

const tableNames = (db: Database.Database): string[] =>
  (
    db
      .prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') ORDER BY name")
      .all() as Array<{ name: string }>
  ).map((r) => r.name);

describe("ledger schema migrations", () => {
  it("numbers its migrations 1, 2, 3, … with a description each", () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    for (const migration of MIGRATIONS) expect(migration.description).not.toBe("");
    expect(LATEST_SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });

  it("brings a fresh file to the latest version with the tasks table and its indexes", () => {
    openSqliteTaskStore({ path, synchronous: "normal" }).close();
    withDatabase((db) => {
      expect(userVersion(db)).toBe(LATEST_SCHEMA_VERSION);
      expect(tableNames(db)).toEqual(
        expect.arrayContaining([
          "tasks",
          "tasks_by_state_updated",
          "tasks_by_worker",
          "tasks_by_finished",
        ]),
      );
    });
  });

  it("leaves a file that is up to date as it is", () => {
    openSqliteTaskStore({ path, synchronous: "normal" }).close();
    withDatabase((db) =>
      expect(migrate(db, path)).toMatchObject({
        fromVersion: LATEST_SCHEMA_VERSION,
        toVersion: LATEST_SCHEMA_VERSION,
        applied: [],
      }),
    );
  });

  it("refuses a file written by a newer scalemesh, naming both versions", () => {
    const newer = LATEST_SCHEMA_VERSION + 1;
    withDatabase((db) => db.pragma(`user_version = ${newer}`));
    const attempt = (): unknown => openSqliteTaskStore({ path, synchronous: "normal" });
    expect(attempt).toThrow(SchemaVersionError);
    expect(attempt).toThrow(
      `task ledger ${path} has schema version ${newer}, newer than the ${LATEST_SCHEMA_VERSION} this scalemesh knows`,
    );
    withDatabase((db) => expect(userVersion(db)).toBe(newer));
  });

  it("applies only the missing migrations, in order", () => {
    const migrations: Migration[] = [
      { version: 1, description: "a", sql: "CREATE TABLE a (x INTEGER)" },
      { version: 2, description: "b", sql: "CREATE TABLE b (x INTEGER)" },
      { version: 3, description: "c", sql: "CREATE TABLE c (x INTEGER)" },
    ];
    withDatabase((db) => {
      migrate(db, path, migrations.slice(0, 1));
      const result = migrate(db, path, migrations);
      expect(result.fromVersion).toBe(1);
      expect(result.applied.map((m) => m.version)).toEqual([2, 3]);
      expect(userVersion(db)).toBe(3);
      expect(tableNames(db)).toEqual(["a", "b", "c"]);
    });
  });

  it("applies all or none: a failing migration leaves the file at its old version", () => {
    const migrations: Migration[] = [
      { version: 1, description: "a", sql: "CREATE TABLE a (x INTEGER)" },
      { version: 2, description: "b", sql: "CREATE TABLE b (x INTEGER)" },
      { version: 3, description: "broken", sql: "CREATE TABLE a (x INTEGER)" },
    ];
    withDatabase((db) => {
      migrate(db, path, migrations.slice(0, 1));
      expect(() => migrate(db, path, migrations)).toThrow(/already exists/);
      expect(userVersion(db)).toBe(1);
      expect(tableNames(db)).toEqual(["a"]);
    });
  });

  it("rejects a list that skips or repeats a version", () => {
    withDatabase((db) => {
      expect(() => migrate(db, path, [{ version: 2, description: "gap", sql: "" }])).toThrow(
        /versions must run 1, 2, 3/,
      );
    });
  });
});
