import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { TaskSchema, TaskSpecSchema, WorkerState } from "../../libs/contracts/index.js";
import type { TaskRecord } from "../../libs/ledger/index.js";
import {
  holdAfterPause,
  judgeLiveness,
  tasksLostOn,
  type LivenessHold,
  type LivenessSettings,
} from "./liveness.js";
import { awaitedWorker, type WorkerRecord } from "./worker-registry.js";

const SETTINGS: LivenessSettings = {
  heartbeatIntervalMs: 1000,
  heartbeatTimeoutMs: 3000,
  deadWorkerRetentionMs: 60_000,
  isFailureDetectionEnabled: true,
};
const NOW = 100_000;
/** The monotonic clock has its own origin: silence is measured on it, never against the wall clock. */
const MONO = 5_000;
/** The coordinator noticed its own pause 100 ms ago; the hold lasts one heartbeat timeout. */
const HOLD = holdAfterPause({
  pauseMs: 10_000,
  monotonicNowMs: MONO - 100,
  heartbeatTimeoutMs: 3000,
});

function worker(overrides: Partial<WorkerRecord> = {}): WorkerRecord {
  return {
    ...awaitedWorker("w", NOW, 1000),
    state: WorkerState.ALIVE,
    streamLostAtMs: undefined,
    lastHeartbeatMs: NOW,
    lastHeardMonotonicMs: MONO,
    ...overrides,
  };
}

function task(taskId: string, startedAtMs: number | undefined): TaskRecord {
  return {
    task: create(TaskSchema, { spec: create(TaskSpecSchema, { taskId }), workerId: "w" }),
    maxAttempts: 3,
    traceContext: {},
    sequence: 1,
    startedAtMs,
  };
}

describe("judgeLiveness", () => {
  const cases: {
    name: string;
    worker: WorkerRecord;
    tasks?: TaskRecord[];
    settings?: Partial<LivenessSettings>;
    hold?: LivenessHold;
    expected: string[];
  }[] = [
    {
      name: "leaves a worker that heartbeats alone",
      worker: worker({ lastHeardMonotonicMs: MONO - 2999 }),
      expected: [],
    },
    {
      name: "declares a silent worker dead past the heartbeat timeout",
      worker: worker({ lastHeardMonotonicMs: MONO - 3001 }),
      expected: ["dead: no heartbeat for 3001 ms (timeout 3000 ms)"],
    },
    {
      name: "does not judge heartbeats when failure detection is off",
      worker: worker({ lastHeardMonotonicMs: MONO - 10_000 }),
      settings: { isFailureDetectionEnabled: false },
      expected: [],
    },
    {
      name: "gives a suspect worker its reconnect grace",
      worker: worker({
        state: WorkerState.SUSPECT,
        streamLostAtMs: NOW - 1000,
        lastHeardMonotonicMs: undefined,
      }),
      expected: [],
    },
    {
      name: "declares a suspect worker dead once its grace ends",
      worker: worker({ state: WorkerState.SUSPECT, streamLostAtMs: NOW - 1001 }),
      expected: ["dead: stream lost and no reconnect within 1000 ms"],
    },
    {
      name: "forgets a dead worker after the retention",
      worker: worker({ state: WorkerState.DEAD, deadAtMs: NOW - 60_001 }),
      expected: ["forget: w"],
    },
    {
      name: "keeps a dead worker within the retention",
      worker: worker({ state: WorkerState.DEAD, deadAtMs: NOW - 60_000 }),
      expected: [],
    },
    {
      name: "times out a task past its timeout plus 2 heartbeats of slack",
      worker: worker(),
      tasks: [task("late", NOW - 10_000 - 2001), task("on-time", NOW - 12_000)],
      expected: ["timed_out: late"],
    },
    {
      name: "measures silence on the monotonic clock: a wall clock stepped an hour ahead silences nobody",
      worker: worker({ lastHeartbeatMs: NOW - 3_600_000 }),
      expected: [],
    },
    {
      name: "does not judge a worker it has not heard from since its own pause",
      worker: worker({ lastHeardMonotonicMs: MONO - 10_200 }),
      tasks: [task("late", NOW - 10_000 - 2001)],
      hold: HOLD,
      expected: [],
    },
    {
      name: "does not run out a suspect worker's grace during the hold either",
      worker: worker({
        state: WorkerState.SUSPECT,
        streamLostAtMs: NOW - 5000,
        lastHeardMonotonicMs: MONO - 10_200,
      }),
      hold: HOLD,
      expected: [],
    },
    {
      name: "judges a worker heard from since the pause as usual",
      worker: worker({ lastHeardMonotonicMs: MONO - 50 }),
      tasks: [task("late", NOW - 10_000 - 2001)],
      hold: HOLD,
      expected: ["timed_out: late"],
    },
    {
      name: "declares a worker still silent dead once the hold is over",
      worker: worker({ lastHeardMonotonicMs: MONO - 10_200 }),
      hold: { ...HOLD, untilMonotonicMs: MONO },
      expected: ["dead: no heartbeat for 10200 ms (timeout 3000 ms)"],
    },
    {
      name: "forgets a long-dead worker during a hold",
      worker: worker({ state: WorkerState.DEAD, deadAtMs: NOW - 60_001 }),
      hold: HOLD,
      expected: ["forget: w"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const verdicts = judgeLiveness({
        workers: [c.worker],
        unfinishedOn: () => c.tasks ?? [],
        timeoutOf: () => 10_000,
        settings: { ...SETTINGS, ...c.settings },
        nowMs: NOW,
        monotonicNowMs: MONO,
        hold: c.hold,
      });
      expect(
        verdicts.map((v) =>
          v.kind === "forget"
            ? `forget: ${v.workerId}`
            : v.kind === "dead"
              ? `dead: ${v.reason}`
              : `timed_out: ${v.task.task.spec?.taskId}`,
        ),
      ).toEqual(c.expected);
    });
  }
});

describe("tasksLostOn", () => {
  it("counts a task lost only when the worker stops reporting it after three heartbeats and at least 2 s", () => {
    const placed = [
      task("running", NOW - 10_000),
      task("lost", NOW - 3001),
      task("just-sent", NOW - 2999),
      task("never-started", undefined),
    ];
    expect(
      tasksLostOn(placed, new Set(["running"]), 1000, NOW).map((t) => t.task.spec?.taskId),
    ).toEqual(["lost"]);
  });
});
