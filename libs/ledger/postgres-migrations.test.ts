// The ledger's PostgreSQL schema migrations against a real server: a new
// database brought to the latest version, only what is missing applied, all
// or nothing, a newer schema refused, two stores opening one new database at
// once.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgresServer, type PostgresServer } from "../../test/support/postgres-server.js";
import { SchemaVersionError, type Migration } from "./migration.js";
import {
  migratePostgres,
  POSTGRES_MIGRATIONS,
  POSTGRES_SCHEMA_VERSION,
  schemaVersion,
} from "./postgres-migrations.js";
import { openPostgresTaskStore } from "./postgres-task-store.js";

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgresServer();
});
afterAll(() => server?.close());

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

const tableNames = (client: pg.Client): Promise<string[]> =>
  client
    .query<{ name: string }>(
      "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' UNION SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY name",
    )
    .then((result) => result.rows.map((row) => row.name));

const toy = (version: number, table: string): Migration => ({
  version,
  description: table,
  sql: `CREATE TABLE ${table} (x INTEGER)`,
});

describe("ledger schema migrations on PostgreSQL", () => {
  it("numbers its migrations 1, 2, 3, … with a description each", () => {
    expect(POSTGRES_MIGRATIONS.map((m) => m.version)).toEqual(
      POSTGRES_MIGRATIONS.map((_, i) => i + 1),
    );
    for (const migration of POSTGRES_MIGRATIONS) expect(migration.description).not.toBe("");
    expect(POSTGRES_SCHEMA_VERSION).toBe(POSTGRES_MIGRATIONS.length);
  });

  it("brings a new database to the latest version with the tasks and scaling tables, and leaves it so on reopening", async () => {
    const url = await server.createDatabase();
    await (await openPostgresTaskStore({ url })).close();
    await (await openPostgresTaskStore({ url })).close();
    await withClient(url, async (client) => {
      expect(await schemaVersion(client)).toBe(POSTGRES_SCHEMA_VERSION);
      expect(await tableNames(client)).toEqual(
        expect.arrayContaining([
          "scaling_events",
          "scalemesh_schema_migrations",
          "tasks",
          "tasks_by_finished",
          "tasks_by_sequence",
          "tasks_by_state_updated",
          "tasks_by_worker",
        ]),
      );
      const applied = await client.query("SELECT version FROM scalemesh_schema_migrations");
      expect(applied.rowCount).toBe(POSTGRES_SCHEMA_VERSION);
    });
  });

  it("opens one new database from two stores at once, each migration applied once", async () => {
    const url = await server.createDatabase();
    const stores = await Promise.all([
      openPostgresTaskStore({ url }),
      openPostgresTaskStore({ url }),
    ]);
    await Promise.all(stores.map((store) => store.close()));
    await withClient(url, async (client) =>
      expect(await schemaVersion(client)).toBe(POSTGRES_SCHEMA_VERSION),
    );
  });

  it("refuses a database written by a newer scalemesh, naming both versions and the url without its password", async () => {
    const database = (await server.createDatabase()).split("/").at(-1) ?? "";
    const url = server.url(database, "s3cret");
    await (await openPostgresTaskStore({ url })).close();
    const newer = POSTGRES_SCHEMA_VERSION + 1;
    await withClient(url, (client) =>
      client.query(
        "INSERT INTO scalemesh_schema_migrations (version, description) VALUES ($1, 'from the future')",
        [newer],
      ),
    );
    const failure = await openPostgresTaskStore({ url }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(SchemaVersionError);
    expect((failure as Error).message).toBe(
      `task ledger postgres://postgres@127.0.0.1:${server.port}/${database} has schema version ${newer}, newer than the ${POSTGRES_SCHEMA_VERSION} this scalemesh knows; run a newer scalemesh, or point ledger.url at another database`,
    );
  });

  it("applies only the missing migrations, in order", async () => {
    const url = await server.createDatabase();
    const migrations = [toy(1, "a"), toy(2, "b"), toy(3, "c")];
    await withClient(url, async (client) => {
      await migratePostgres(client, url, migrations.slice(0, 1));
      const result = await migratePostgres(client, url, migrations);
      expect(result.fromVersion).toBe(1);
      expect(result.applied.map((m) => m.version)).toEqual([2, 3]);
      expect(await schemaVersion(client)).toBe(3);
      expect(await tableNames(client)).toEqual([
        "a",
        "b",
        "c",
        "scalemesh_schema_migrations",
        "scalemesh_schema_migrations_pkey",
      ]);
    });
  });

  it("applies all or none: a failing migration leaves the database at its old version", async () => {
    const url = await server.createDatabase();
    const migrations = [toy(1, "a"), toy(2, "b"), toy(3, "a")];
    await withClient(url, async (client) => {
      await migratePostgres(client, url, migrations.slice(0, 1));
      await expect(migratePostgres(client, url, migrations)).rejects.toThrow(/already exists/);
      expect(await schemaVersion(client)).toBe(1);
      expect(await tableNames(client)).toEqual([
        "a",
        "scalemesh_schema_migrations",
        "scalemesh_schema_migrations_pkey",
      ]);
    });
  });

  it("rejects a list that skips or repeats a version", async () => {
    const url = await server.createDatabase();
    await withClient(url, async (client) =>
      expect(migratePostgres(client, url, [toy(2, "gap")])).rejects.toThrow(
        /versions must run 1, 2, 3/,
      ),
    );
  });
});
