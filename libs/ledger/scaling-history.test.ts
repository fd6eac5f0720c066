import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  createMemoryScalingHistory,
  openSqliteScalingHistory,
  type ScalingEventRecord,
  type ScalingHistory,
} from "./scaling-history.js";
import { openSqliteTaskStore } from "./sqlite-task-store.js";

const dir = mkdtempSync(join(tmpdir(), "scalemesh-history-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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

const stores: [string, (max: number) => ScalingHistory][] = [
  ["memory", (max) => createMemoryScalingHistory(max)],
  [
    "sqlite",
    (max) => {
      const path = join(dir, `ledger-${Math.random().toString(16).slice(2)}.db`);
      openSqliteTaskStore({ path, synchronous: "normal" }).close();
      return openSqliteScalingHistory(path, max);
    },
  ],
];

describe.each(stores)("scaling history (%s)", (_name, open) => {
  it("pages newest first and keeps every field", () => {
    const history = open(100);
    for (let i = 1; i <= 7; i += 1) history.append(event(i));
    const first = history.list({ limit: 3 });
    expect(first.map((e) => e.message)).toEqual(["decision 7", "decision 6", "decision 5"]);
    const second = history.list({ limit: 3, beforeId: first.at(-1)?.id });
    expect(second.map((e) => e.message)).toEqual(["decision 4", "decision 3", "decision 2"]);
    expect(second[0]).toMatchObject({ ...event(4) });
    history.close();
  });

  it("forgets the oldest beyond its bound", () => {
    const history = open(5);
    for (let i = 1; i <= 12; i += 1) history.append(event(i));
    expect(history.list({ limit: 100 }).map((e) => e.readyWorkers)).toEqual([12, 11, 10, 9, 8]);
    history.close();
  });
});

it("survives reopening the ledger file", () => {
  const path = join(dir, "reopened.db");
  openSqliteTaskStore({ path, synchronous: "normal" }).close();
  const first = openSqliteScalingHistory(path);
  first.append(event(3));
  first.close();
  const again = openSqliteScalingHistory(path);
  expect(again.list({ limit: 10 }).map((e) => e.message)).toEqual(["decision 3"]);
  again.close();
});
