// What the ledger's migrations have in common, whichever store runs them: a
// migration is a version, a description and its SQL; versions run 1, 2, 3, …
// and a store refuses a schema newer than the list it knows.

export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

export interface MigrationResult {
  readonly fromVersion: number;
  readonly toVersion: number;
  readonly applied: readonly Migration[];
}

/** The ledger was written by a newer scalemesh; this one must not touch it. */
export class SchemaVersionError extends Error {
  override readonly name = "SchemaVersionError";
  constructor(
    /** The file, or the database's url without its password. */
    readonly path: string,
    readonly fileVersion: number,
    readonly knownVersion: number,
    hint = "run a newer scalemesh, or point ledger.path at another file",
  ) {
    super(
      `task ledger ${path} has schema version ${fileVersion}, newer than the ${knownVersion} this scalemesh knows; ${hint}`,
    );
  }
}

/** Throws unless the versions run 1, 2, 3, … in order. */
export function checkMigrationOrder(migrations: readonly Migration[]): void {
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new Error(
        `ledger migration "${migration.description}" has version ${migration.version}; versions must run 1, 2, 3, … in order`,
      );
    }
  });
}

/** The migrations a ledger at `fromVersion` still needs; throws SchemaVersionError when it is newer than the list. */
export function missingMigrations(
  migrations: readonly Migration[],
  fromVersion: number,
  target: { readonly path: string; readonly hint?: string },
): readonly Migration[] {
  const known = migrations.at(-1)?.version ?? 0;
  if (fromVersion > known)
    throw new SchemaVersionError(target.path, fromVersion, known, target.hint);
  return migrations.filter((m) => m.version > fromVersion);
}
