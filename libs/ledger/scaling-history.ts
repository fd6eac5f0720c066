// The autoscaler's decisions, newest first, kept next to the tasks in the
// ledger (a coordinator restart keeps them, as operators reading "why 7
// workers?" after an incident expect): in the SQLite file, in the PostgreSQL
// database (postgres-scaling-history.ts), or in memory with ":memory:".
// Bounded: the oldest go once there are more than maxEvents.
import Database from "better-sqlite3";

/** One decision as stored: plain JSON, so the store needs no protobuf. */
export interface ScalingEventRecord {
  readonly atMs: number;
  readonly reason: string;
  readonly message: string;
  readonly readyWorkers: number;
  readonly startingWorkers: number;
  readonly desiredWorkers: number;
  readonly rawDesiredWorkers: number;
  readonly mode: string;
  readonly signals: Readonly<Record<string, number>>;
  readonly action: string;
  readonly error: string;
}

export interface StoredScalingEvent extends ScalingEventRecord {
  readonly id: number;
}

/** Answers with promises, as a store across the network must; appends land in the order they were made. */
export interface ScalingHistory {
  append(event: ScalingEventRecord): Promise<StoredScalingEvent>;
  /** Newest first, ids below `beforeId` (all when absent). */
  list(options: { limit: number; beforeId?: number }): Promise<StoredScalingEvent[]>;
  close(): Promise<void>;
}

export function createMemoryScalingHistory(maxEvents = 10_000): ScalingHistory {
  const events: StoredScalingEvent[] = [];
  let nextId = 1;
  return {
    async append(event) {
      const stored = { ...event, id: nextId++ };
      events.push(stored);
      if (events.length > maxEvents) events.splice(0, events.length - maxEvents);
      return stored;
    },
    async list({ limit, beforeId }) {
      const older = beforeId === undefined ? events : events.filter((e) => e.id < beforeId);
      return older.slice(-limit).reverse();
    },
    async close() {},
  };
}

/** A second connection to the ledger file (WAL lets it write beside the task store); the table comes from the ledger's migrations. */
export function openSqliteScalingHistory(path: string, maxEvents = 10_000): ScalingHistory {
  const db = new Database(path, { timeout: 5000 });
  const insert = db.prepare<[number, string]>(
    "INSERT INTO scaling_events (at_ms, event) VALUES (?, ?)",
  );
  const prune = db.prepare<[number]>("DELETE FROM scaling_events WHERE id <= ?");
  const page = db.prepare<[number, number]>(
    "SELECT id, event FROM scaling_events WHERE id < ? ORDER BY id DESC LIMIT ?",
  );
  return {
    async append(event) {
      const id = Number(insert.run(event.atMs, JSON.stringify(event)).lastInsertRowid);
      if (id > maxEvents) prune.run(id - maxEvents);
      return { ...event, id };
    },
    async list({ limit, beforeId }) {
      const rows = page.all(beforeId ?? Number.MAX_SAFE_INTEGER, limit) as {
        id: number;
        event: string;
      }[];
      return rows.map((row) => ({ ...(JSON.parse(row.event) as ScalingEventRecord), id: row.id }));
    },
    async close() {
      db.close();
    },
  };
}
