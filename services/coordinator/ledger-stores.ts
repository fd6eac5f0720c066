// Which store holds the coordinator's ledger, from its config: PostgreSQL
// when ledger.url is set (it wins), else the SQLite file at ledger.path, or
// memory for ":memory:". The scaling history sits beside the tasks in the
// same place, so a restart (or another coordinator on the same database)
// finds both.
import type { Config } from "../../libs/config/index.js";
import {
  createMemoryScalingHistory,
  createMemoryTaskStore,
  openPostgresScalingHistory,
  openPostgresTaskStore,
  openSqliteScalingHistory,
  openSqliteTaskStore,
  withoutPassword,
  type CommitObserver,
  type ScalingHistory,
  type TaskStore,
} from "../../libs/ledger/index.js";
import type { WriteFence } from "../../libs/ledger/leader-lease.js";

export interface LedgerStores {
  readonly store: TaskStore;
  readonly history: ScalingHistory;
  /** The option that chose the store, for a message about it. */
  readonly key: "ledger.url" | "ledger.path";
  /** Where it is, as a log line may say it: the file, or the url without its password. */
  readonly where: string;
  close(): Promise<void>;
}

/** The option that chooses the store, and where it points (safe to log). */
export function ledgerLocation(ledger: Config["ledger"]): {
  key: LedgerStores["key"];
  where: string;
} {
  return ledger.url !== ""
    ? { key: "ledger.url", where: withoutPassword(ledger.url) }
    : { key: "ledger.path", where: ledger.path };
}

/** Opens the store (migrating it) and its scaling history; rejects with the store's error when it cannot. */
export async function openLedgerStores(
  ledger: Config["ledger"],
  observer: CommitObserver,
  /** The leader lease every PostgreSQL write is checked against (coordinator replicas). */
  fence?: WriteFence,
): Promise<LedgerStores> {
  const { key, where } = ledgerLocation(ledger);
  const common = { maxBatchRows: ledger.max_batch_rows, observer };
  let store: TaskStore;
  let history: ScalingHistory;
  if (ledger.url !== "") {
    store = await openPostgresTaskStore({
      url: ledger.url,
      ...common,
      ...(fence ? { fence } : {}),
    });
    history = openPostgresScalingHistory({ url: ledger.url });
  } else if (ledger.path === ":memory:") {
    store = createMemoryTaskStore(common);
    history = createMemoryScalingHistory();
  } else {
    store = openSqliteTaskStore({ path: ledger.path, synchronous: ledger.synchronous, ...common });
    // A second connection to the file: the table comes from the store's migrations.
    history = openSqliteScalingHistory(ledger.path);
  }
  return {
    store,
    history,
    key,
    where,
    async close() {
      await store.close();
      await history.close();
    },
  };
}
