// The scaling history in each place it can live: memory, the SQLite ledger
// file, the PostgreSQL ledger database (a real server).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgresServer, type PostgresServer } from "../../test/support/postgres-server.js";
import { openPostgresScalingHistory } from "./postgres-scaling-history.js";
import { openPostgresTaskStore } from "./postgres-task-store.js";
import {
  createMemoryScalingHistory,
  openSqliteScalingHistory,
  type ScalingEventRecord,
  type ScalingHistory,
} from "./scaling-history.js";
import { openSqliteTaskStore } from "./sqlite-task-store.js";

const dir = mkdtempSync(join(tmpdir(), "scalemesh-history-"));
let postgres: PostgresServer;
beforeAll(async () => {
  postgres = await startPostgresServer();
});
afterAll(async () => {
  await postgres?.close();
  rmSync(dir, { recursive: true, force: true });
});

const event = (i: number): ScalingEventRecord => ({
  atMs: 1_000 * i,
  reason: i % 2 === 0 ? "ScaleUp" : "WithinTolerance",
  message: `decision ${i}`,
  readyWorkers: i,
  startingWorkers: 0,
  desiredWorkers: i + 1,
  rawDesiredWorkers: i + 2,
  mode: "normal",
  signals: { slot_utilization: i / 10 },
  action: i % 2 === 0 ? "start 1" : "",
  error: "",
});

/** A new ledger in one store, its tables made by the task store's migrations; each open() opens that same ledger. */
interface Place {
  open(maxEvents?: number): ScalingHistory;
}

const places: [string, () => Promise<Place>][] = [
  ["memory", async () => ({ open: (max) => createMemoryScalingHistory(max) })],
  [
    "sqlite",
    async () => {
      const path = join(dir, `ledger-${Math.random().toString(16).slice(2)}.db`);
      await openSqliteTaskStore({ path, synchronous: "normal" }).close();
      return { open: (max) => openSqliteScalingHistory(path, max) };
    },
  ],
  [
    "postgres",
    async () => {
      const url = await postgres.createDatabase();
      await (await openPostgresTaskStore({ url })).close();
      return { open: (maxEvents) => openPostgresScalingHistory({ url, maxEvents }) };
    },
  ],
];

const messages = (events: readonly ScalingEventRecord[]): string[] => events.map((e) => e.message);

describe.each(places)("scaling history (%s)", (name, newPlace) => {
  it("pages newest first and keeps every field", async () => {
    const history = (await newPlace()).open(100);
    for (let i = 1; i <= 7; i += 1) await history.append(event(i));
    const first = await history.list({ limit: 3 });
    expect(messages(first)).toEqual(["decision 7", "decision 6", "decision 5"]);
    const second = await history.list({ limit: 3, beforeId: first.at(-1)?.id });
    expect(messages(second)).toEqual(["decision 4", "decision 3", "decision 2"]);
    expect(second[0]).toEqual({ ...event(4), id: second[0]?.id });
    await history.close();
  });

  it("forgets the oldest beyond its bound", async () => {
    const history = (await newPlace()).open(5);
    for (let i = 1; i <= 12; i += 1) await history.append(event(i));
    expect((await history.list({ limit: 100 })).map((e) => e.readyWorkers)).toEqual([
      12, 11, 10, 9, 8,
    ]);
    await history.close();
  });

  it("keeps the order of appends made without waiting for each", async () => {
    const history = (await newPlace()).open(100);
    const stored = await Promise.all([1, 2, 3, 4, 5].map((i) => history.append(event(i))));
    const ids = stored.map((e) => e.id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(messages(await history.list({ limit: 10 }))).toEqual(
      [5, 4, 3, 2, 1].map((i) => `decision ${i}`),
    );
    await history.close();
  });

  it.skipIf(name === "memory")("survives reopening the ledger", async () => {
    const place = await newPlace();
    const first = place.open();
    await first.append(event(3));
    await first.close();
    const again = place.open();
    expect(messages(await again.list({ limit: 10 }))).toEqual(["decision 3"]);
    await again.close();
  });
});
