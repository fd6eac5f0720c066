// The coordinator after its own pause, driven through its liveness tick with
// injected clocks (wall and monotonic apart) and its log captured.
import { create } from "@bufbuild/protobuf";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import {
  HeartbeatSchema,
  RegisterSchema,
  TaskSpecSchema,
  TaskState,
  WorkerState,
} from "../../libs/contracts/index.js";
import { createMemoryTaskStore } from "../../libs/ledger/index.js";
import { Coordinator, type CoordinatorSettings } from "./coordinator.js";
import type { WorkerSessionHandle } from "./worker-registry.js";

/** Heartbeat 1 s, timeout 3 s: liveness ticks every 250 ms; a pause is a tick over 1.5 s late. */
const SETTINGS: CoordinatorSettings = {
  heartbeatIntervalMs: 1000,
  heartbeatTimeoutMs: 3000,
  reconnectGraceMs: 1000,
  recoveryGraceMs: 5000,
  maxPendingTasks: 10,
  defaultMaxAttempts: 3,
  defaultTaskTimeoutMs: 60_000,
  deadWorkerRetentionMs: 60_000,
  isFailureDetectionEnabled: true,
  strategy: "least_loaded",
  retryBackoff: { initialMs: 1000, maxMs: 10_000 },
};
const TICK_MS = 250;

function pausedMesh() {
  const clock = {
    wallMs: 1_800_000_000_000,
    monotonicMs: 7_000,
    now() {
      return this.wallMs;
    },
    monotonicNow() {
      return this.monotonicMs;
    },
  };
  const logs: Record<string, unknown>[] = [];
  const logger = pino(
    { level: "info" },
    { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const coordinator = new Coordinator(SETTINGS, logger, createMemoryTaskStore(), clock, () => 0.5);
  coordinator.tickLiveness(); // the first reading, as start() takes it
  const sessions = new Map<string, WorkerSessionHandle>();
  const join = (workerId: string): void => {
    const { session } = coordinator.register(
      create(RegisterSchema, { worker: { workerId, slots: 2, address: `${workerId}:1` } }),
    );
    sessions.set(workerId, session);
  };
  const beat = (workerId: string, runningTaskIds: string[] = []): void =>
    coordinator.heartbeat(
      sessions.get(workerId) as WorkerSessionHandle,
      create(HeartbeatSchema, { runningTaskIds }),
    );
  /** Both clocks move on; the wall clock may move by more (a step). */
  const advance = (monotonicMs: number, wallMs = monotonicMs): void => {
    clock.monotonicMs += monotonicMs;
    clock.wallMs += wallMs;
  };
  /** Ticks for `ms`, the workers in `beating` heartbeating once a second (read after the tick, as after a SIGCONT). */
  const run = (ms: number, beating: string[], running: Record<string, string[]> = {}): void => {
    for (let elapsed = 0; elapsed < ms; elapsed += TICK_MS) {
      advance(TICK_MS);
      coordinator.tickLiveness();
      if ((clock.monotonicMs / TICK_MS) % 4 === 0)
        for (const id of beating) beat(id, running[id] ?? []);
    }
  };
  const place = (taskId: string, workerId: string) =>
    coordinator.place(create(TaskSpecSchema, { taskId }), workerId, {});
  const stateOf = (workerId: string) => WorkerState[coordinator.getWorker(workerId)?.state ?? -1];
  const task = (taskId: string) => coordinator.ledger.get(taskId)?.task;
  const said = (msg: RegExp) => logs.filter((l) => msg.test(String(l.msg)));
  return { coordinator, clock, join, beat, advance, run, place, stateOf, task, said };
}

describe("the coordinator after its own pause", () => {
  it("does not declare its workers dead for its own 10 s pause, and says so in one warn line", async () => {
    const m = pausedMesh();
    m.join("w1");
    m.join("w2");
    await m.place("t1", "w1");
    m.run(1000, ["w1", "w2"], { w1: ["t1"] });
    m.advance(TICK_MS + 10_000); // SIGSTOP ... SIGCONT: the timer fires before any socket is read
    m.coordinator.tickLiveness();
    expect([m.stateOf("w1"), m.stateOf("w2")]).toEqual(["ALIVE", "ALIVE"]);
    m.run(5000, ["w1", "w2"], { w1: ["t1"] });
    expect([m.stateOf("w1"), m.stateOf("w2")]).toEqual(["ALIVE", "ALIVE"]);
    expect([m.task("t1")?.state, m.task("t1")?.attempt]).toEqual([TaskState.ASSIGNED, 1]);
    const warned = m.said(/coordinator paused/);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({
      level: 40,
      reason: "EventLoopStalled",
      pauseMs: 10_000,
      workersNotJudged: 2,
      wouldHaveDeclaredDead: 2,
    });
    expect(m.said(/liveness judgement resumed/)[0]).toMatchObject({ heardAgain: 2, notHeard: 0 });
  });

  it("declares a worker that died during its pause dead once the hold is over", async () => {
    const m = pausedMesh();
    m.join("w1");
    m.join("w2");
    await m.place("t2", "w2");
    m.run(1000, ["w1", "w2"], { w2: ["t2"] });
    m.advance(10_000);
    m.coordinator.tickLiveness();
    m.run(2750, ["w1"]); // w2 never heard from again: within the 3 s hold
    expect([m.stateOf("w1"), m.stateOf("w2")]).toEqual(["ALIVE", "ALIVE"]);
    m.run(500, ["w1"]);
    expect([m.stateOf("w1"), m.stateOf("w2")]).toEqual(["ALIVE", "DEAD"]);
    expect(m.task("t2")?.attempt).toBe(2);
    expect(m.task("t2")?.history[0]?.error).toMatch(
      /worker w2 died: no heartbeat for 1[34]\d{3} ms/,
    );
    expect(m.said(/liveness judgement resumed/)[0]).toMatchObject({ heardAgain: 1, notHeard: 1 });
  });

  it("judges no task lost from a heartbeat read during the hold, and does again after it", async () => {
    const m = pausedMesh();
    m.join("w1");
    await m.place("t1", "w1");
    m.advance(10_000);
    m.coordinator.tickLiveness();
    m.beat("w1", []); // written before the assignment reached it, read after the pause
    expect([m.task("t1")?.state, m.task("t1")?.attempt]).toEqual([TaskState.ASSIGNED, 1]);
    m.run(3250, ["w1"], { w1: ["t1"] });
    m.beat("w1", []);
    expect(m.task("t1")?.state).toBe(TaskState.PENDING);
    expect(m.task("t1")?.history[0]?.error).toMatch(/no longer reports it running/);
  });

  it("sees the pause at a heartbeat read before the timer, and judges no task lost from it", async () => {
    const m = pausedMesh();
    m.join("w1");
    await m.place("t1", "w1");
    m.advance(TICK_MS + 10_000);
    m.beat("w1", []); // the socket read runs first: written before the assignment reached it
    m.coordinator.tickLiveness();
    expect([m.task("t1")?.state, m.task("t1")?.attempt]).toEqual([TaskState.ASSIGNED, 1]);
    expect(m.stateOf("w1")).toBe("ALIVE");
    expect(m.said(/coordinator paused/)).toHaveLength(1);
  });

  it("measures heartbeat silence on the monotonic clock: a wall clock stepped an hour ahead blames nobody", () => {
    const m = pausedMesh();
    m.join("w1");
    m.run(1000, ["w1"]);
    m.advance(TICK_MS, 3_600_000);
    m.coordinator.tickLiveness();
    m.run(5000, ["w1"]);
    expect(m.stateOf("w1")).toBe("ALIVE");
    expect(m.said(/coordinator paused/)[0]).toMatchObject({
      reason: "WallClockJumped",
      pauseMs: 3_600_000 - TICK_MS,
    });
  });

  it("says so once per hold: a second jump within it starts the hold again with an info line", () => {
    const m = pausedMesh();
    m.join("w1");
    m.join("w2");
    m.run(1000, ["w1", "w2"]);
    m.advance(TICK_MS + 10_000);
    m.coordinator.tickLiveness();
    m.run(500, ["w1"]);
    m.advance(TICK_MS + 5_000);
    m.coordinator.tickLiveness();
    m.run(2750, ["w1"]); // w2 silent: 3 s after the second jump, not after the first
    expect([m.stateOf("w1"), m.stateOf("w2")]).toEqual(["ALIVE", "ALIVE"]);
    m.run(500, ["w1"]);
    expect([m.stateOf("w1"), m.stateOf("w2")]).toEqual(["ALIVE", "DEAD"]);
    expect(m.said(/coordinator paused/)).toHaveLength(1);
    expect(m.said(/jumped again during the pause hold/)[0]).toMatchObject({ pauseMs: 5000 });
  });

  it("takes an ordinary late tick for no pause", () => {
    const m = pausedMesh();
    m.join("w1");
    m.run(1000, ["w1"]);
    m.advance(1400);
    m.coordinator.tickLiveness();
    m.run(1000, ["w1"]);
    expect(m.said(/coordinator paused/)).toEqual([]);
  });
});
