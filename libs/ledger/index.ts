export * from "./task-ledger.js";
export * from "./pending-queue.js";
export * from "./retry-backoff.js";
export * from "./task-store.js";
export type { CommitObserver } from "./group-commit.js";
export * from "./sqlite-task-store.js";
export { LATEST_SCHEMA_VERSION, SchemaVersionError } from "./sqlite-migrations.js";
export * from "./scaling-history.js";
