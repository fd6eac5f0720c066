import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { TaskSchema, TaskSpecSchema, WorkerState } from "../../libs/contracts/index.js";
import type { TaskRecord } from "../../libs/ledger/index.js";
import { judgeLiveness, tasksLostOn, type LivenessSettings } from "./liveness.js";
import { awaitedWorker, type WorkerRecord } from "./worker-registry.js";

const SETTINGS: LivenessSettings = {
  heartbeatIntervalMs: 1000,
  heartbeatTimeoutMs: 3000,
  deadWorkerRetentionMs: 60_000,
  isFailureDetectionEnabled: true,
};
const NOW = 100_000;

function worker(overrides: Partial<WorkerRecord> = {}): WorkerRecord {
  return {
    ...awaitedWorker("w", NOW, 1000),
    state: WorkerState.ALIVE,
    streamLostAtMs: undefined,
    lastHeartbeatMs: NOW,
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
    expected: string[];
  }[] = [
    {
      name: "leaves a worker that heartbeats alone",
      worker: worker({ lastHeartbeatMs: NOW - 2999 }),
      expected: [],
    },
    {
      name: "declares a silent worker dead past the heartbeat timeout",
      worker: worker({ lastHeartbeatMs: NOW - 3001 }),
      expected: ["dead: no heartbeat for 3001 ms (timeout 3000 ms)"],
    },
    {
      name: "does not judge heartbeats when failure detection is off",
      worker: worker({ lastHeartbeatMs: NOW - 10_000 }),
      settings: { isFailureDetectionEnabled: false },
      expected: [],
    },
    {
      name: "gives a suspect worker its reconnect grace",
      worker: worker({
        state: WorkerState.SUSPECT,
        streamLostAtMs: NOW - 1000,
        lastHeartbeatMs: 0,
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
  ];
  for (const c of cases) {
    it(c.name, () => {
      const verdicts = judgeLiveness({
        workers: [c.worker],
        unfinishedOn: () => c.tasks ?? [],
        timeoutOf: () => 10_000,
        settings: { ...SETTINGS, ...c.settings },
        nowMs: NOW,
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
