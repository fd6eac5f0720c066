import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LoadRecord, ScalingPolicy } from "../../libs/scaling/index.js";
import { createForecaster, type Forecaster, type ForecasterSnapshot } from "./forecaster.js";
import { loadHistoryFile, saveHistoryFile, type LoadedHistory } from "./history-file.js";

const T0 = Date.UTC(2025, 0, 6);
const POLICY: ScalingPolicy = {
  windowSec: 60,
  minWorkers: 1,
  maxWorkers: 10,
  scaleUpThreshold: 0.8,
  scaleDownThreshold: 0.3,
};

let directory: string;
beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), "scalemesh-history-"));
});
afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

function record(atMs: number, overrides: Partial<LoadRecord>): LoadRecord {
  return {
    observedAtMs: atMs,
    workers: 4,
    totalSlots: 16,
    busySlots: 8,
    pendingTasks: 0,
    meanCpuUtilization: 0.5,
    arrivalRatePerSec: 10,
    completionRatePerSec: 2,
    ...overrides,
  };
}

/** Two hours of noisy rising demand a second apart, the last sample at T0. */
function forecasterWithHistory(): Forecaster {
  const forecaster = createForecaster({ policy: POLICY, hardMaxWorkers: 100 });
  for (let i = 0; i < 7200; i += 1) {
    forecaster.observe(
      record(T0 - (7199 - i) * 1000, {
        busySlots: 4 + (i % 5),
        pendingTasks: i / 600,
        arrivalRatePerSec: 10 + (i % 3),
      }),
    );
  }
  return forecaster;
}

function snapshotOf(loaded: LoadedHistory): ForecasterSnapshot {
  if (loaded.kind !== "loaded")
    throw new Error(`expected a loaded history, got ${JSON.stringify(loaded)}`);
  return loaded.snapshot;
}

describe("loadHistoryFile", () => {
  it("answers none for a file that does not exist, nor its directory", () => {
    expect(loadHistoryFile(join(directory, "history.json"))).toEqual({ kind: "none" });
    expect(loadHistoryFile(join(directory, "missing", "history.json"))).toEqual({ kind: "none" });
  });

  it("throws a read error other than a missing file rather than taking it for no history", () => {
    mkdirSync(join(directory, "history.json"));
    expect(() => loadHistoryFile(join(directory, "history.json"))).toThrow(/EISDIR/);
  });

  const unreadable = [
    { name: "text that is not JSON", text: '{"version":1,"signals":{', reason: /JSON/ },
    {
      name: "a format of another version",
      text: '{"version":2,"signals":{}}',
      reason: /^unknown format \(version 2\)$/,
    },
    {
      name: "JSON without a version",
      text: "[]",
      reason: /^unknown format \(version undefined\)$/,
    },
  ];
  for (const c of unreadable) {
    it(`sets aside ${c.name} with the reason, and starts empty next time`, () => {
      const path = join(directory, "history.json");
      writeFileSync(path, c.text);
      const loaded = loadHistoryFile(path);
      expect(loaded.kind).toBe("unreadable");
      if (loaded.kind !== "unreadable") return;
      expect(loaded.reason).toMatch(c.reason);
      expect(loaded.movedTo.startsWith(`${path}.unreadable-`)).toBe(true);
      expect(readFileSync(loaded.movedTo, "utf8")).toBe(c.text);
      expect(existsSync(path)).toBe(false);
      expect(loadHistoryFile(path)).toEqual({ kind: "none" });
    });
  }

  // Was a bug (history-file.ts:21); this keeps it fixed.
  it("sets aside a version 1 file whose signals are null", () => {
    const path = join(directory, "history.json");
    writeFileSync(path, '{"version":1,"signals":null}');
    expect(loadHistoryFile(path).kind).toBe("unreadable");
  });
});

describe("saveHistoryFile", () => {
  it("creates the directory and leaves only the file, no temporary", () => {
    const path = join(directory, "state", "optimizer", "history.json");
    saveHistoryFile(path, forecasterWithHistory().snapshot());
    expect(readdirSync(join(directory, "state", "optimizer"))).toEqual(["history.json"]);
  });

  it("replaces the previous file whole", () => {
    const path = join(directory, "history.json");
    saveHistoryFile(path, forecasterWithHistory().snapshot());
    const empty = createForecaster({ policy: POLICY, hardMaxWorkers: 100 }).snapshot();
    saveHistoryFile(path, empty);
    expect(snapshotOf(loadHistoryFile(path))).toEqual(JSON.parse(JSON.stringify(empty)));
    expect(readdirSync(directory)).toEqual(["history.json"]);
  });
});

describe("history across a restart", () => {
  it("answers the same forecasts after snapshot, save, load and restore", () => {
    const before = forecasterWithHistory();
    const path = join(directory, "history.json");
    saveHistoryFile(path, before.snapshot());
    const after = createForecaster({
      policy: POLICY,
      hardMaxWorkers: 100,
      restored: snapshotOf(loadHistoryFile(path)),
    });

    expect(after.snapshot()).toEqual(before.snapshot());
    for (const signal of ["demand", "arrival_rate", "workers"] as const) {
      for (const horizonSec of [300, 3600, 86_400]) {
        expect(
          after.forecast(signal, { nowMs: T0, horizonSec }),
          `${signal} over ${horizonSec} s`,
        ).toEqual(before.forecast(signal, { nowMs: T0, horizonSec }));
      }
    }
    const { predictedDemand, forecast } = before.recommend(T0, 60);
    expect(after.recommend(T0, 60)).toMatchObject({ predictedDemand, forecast });
  });

  it("carries the burst detector's state: a burst after the restart is measured against the baseline learned before it", () => {
    const before = forecasterWithHistory();
    const path = join(directory, "history.json");
    saveHistoryFile(path, before.snapshot());
    const after = createForecaster({
      policy: POLICY,
      hardMaxWorkers: 100,
      restored: snapshotOf(loadHistoryFile(path)),
    });
    // A fresh detector would still be learning its baseline from this one sample.
    after.observe(record(T0 + 1000, { arrivalRatePerSec: 40 }));
    expect(after.recommend(T0 + 1000, 30).isBurstDetected).toBe(true);
  });
});
