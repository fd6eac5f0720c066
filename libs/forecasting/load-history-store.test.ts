import { describe, expect, it } from "vitest";
import { createLoadHistoryStore, restoreLoadHistoryStore } from "./load-history-store.js";

const T0 = Date.UTC(2025, 0, 6);
const query = { fromMs: T0, toMs: T0 + 3_600_000 };

describe("createLoadHistoryStore", () => {
  it("keeps one history per signal", () => {
    const store = createLoadHistoryStore(["arrival_rate", "busy_slots"]);
    store.append("arrival_rate", T0, 5);
    store.append("busy_slots", T0, 2);
    store.append("busy_slots", T0 + 100, 4);
    expect(store.history("arrival_rate").points(query)).toEqual([{ atMs: T0, value: 5 }]);
    expect(store.history("busy_slots").points(query)).toEqual([{ atMs: T0, value: 3 }]);
  });

  it("refuses a signal it was not made with", () => {
    const store = createLoadHistoryStore(["arrival_rate"]);
    expect(() => store.append("arival_rate", T0, 1)).toThrow(/arival_rate/);
    expect(() => store.history("cpu")).toThrow(RangeError);
  });

  it("restores every signal's points from a JSON round trip of its snapshot", () => {
    const store = createLoadHistoryStore(["arrival_rate", "busy_slots"]);
    for (let i = 0; i < 7200; i += 1) {
      store.append("arrival_rate", T0 + i * 1000, i % 13);
      store.append("busy_slots", T0 + i * 1000, i % 5);
    }
    const restored = restoreLoadHistoryStore(JSON.parse(JSON.stringify(store.snapshot())));
    expect(restored.signals).toEqual(["arrival_rate", "busy_slots"]);
    for (const signal of store.signals) {
      expect(restored.history(signal).points({ fromMs: T0, toMs: T0 + 7_200_000 })).toEqual(
        store.history(signal).points({ fromMs: T0, toMs: T0 + 7_200_000 }),
      );
    }
    expect(restored.snapshot()).toEqual(store.snapshot());
  });

  it("starts a newly listed signal empty and drops one no longer listed", () => {
    const store = createLoadHistoryStore(["arrival_rate", "retired"]);
    store.append("arrival_rate", T0, 5);
    const restored = restoreLoadHistoryStore(store.snapshot(), {
      signals: ["arrival_rate", "cpu"],
    });
    expect(restored.signals).toEqual(["arrival_rate", "cpu"]);
    expect(restored.history("arrival_rate").points(query)).toEqual([{ atMs: T0, value: 5 }]);
    expect(restored.history("cpu").size()).toBe(0);
    expect(() => restored.history("retired")).toThrow(RangeError);
  });
});
