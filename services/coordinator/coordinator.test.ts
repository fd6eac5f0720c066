import { create } from "@bufbuild/protobuf";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { RegisterSchema, TaskResultSchema, TaskSpecSchema, TaskState, WorkerState } from "../../libs/contracts/index.js";
import { Code, ConnectError } from "../../libs/rpc/index.js";
import { Coordinator, type CoordinatorSettings } from "./coordinator.js";
import type { WorkerSessionHandle } from "./worker-registry.js";

const SETTINGS: CoordinatorSettings = {
  heartbeatIntervalMs: 1000,
  heartbeatTimeoutMs: 3000,
  reconnectGraceMs: 1000,
  maxPendingTasks: 3,
  defaultMaxAttempts: 3,
  defaultTaskTimeoutMs: 60_000,
  deadWorkerRetentionMs: 60_000,
  isFailureDetectionEnabled: true,
  strategy: "least_loaded",
};

function fixture(settings: Partial<CoordinatorSettings> = {}) {
  const clock = { nowMs: 1_000_000, now() { return this.nowMs; } };
  const coordinator = new Coordinator({ ...SETTINGS, ...settings }, pino({ level: "silent" }), clock);
  const join = (workerId: string, slots = 2, capabilities: string[] = [], runningTaskIds: string[] = []) =>
    coordinator.register(create(RegisterSchema, { worker: { workerId, slots, capabilities, address: `${workerId}:1` }, runningTaskIds })).session;
  const task = (taskId: string, init: Partial<{ priority: number; requiredCapabilities: string[]; payload: Uint8Array }> = {}) => create(TaskSpecSchema, { taskId, ...init });
  return { coordinator, clock, join, task };
}

/** Task ids of the assignments pushed down a session so far. */
async function assignments(session: WorkerSessionHandle): Promise<string[]> {
  session.outbound.close();
  const ids: string[] = [];
  for await (const message of session.outbound) {
    if (message.message?.case === "assignment") ids.push(message.message.value.taskId ?? "");
  }
  return ids;
}

function expectCode(fn: () => unknown, code: Code, message: RegExp): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(code);
    expect((error as ConnectError).rawMessage).toMatch(message);
    return;
  }
  throw new Error("expected a refusal");
}

describe("Place", () => {
  it("records the task as ASSIGNED and pushes it to the worker", async () => {
    const { coordinator, join, task } = fixture();
    const session = join("w1");
    const response = coordinator.place(task("t1"), "w1", {});
    expect(response.task?.state).toBe(TaskState.ASSIGNED);
    expect(response.task?.workerId).toBe("w1");
    expect(response.workerAddress).toBe("w1:1");
    expect(await assignments(session)).toEqual(["t1"]);
  });

  it("refuses a worker with no free slot, so the balancer tries the next", () => {
    const { coordinator, join, task } = fixture();
    join("w1", 1);
    coordinator.place(task("t1"), "w1", {});
    expectCode(() => coordinator.place(task("t2"), "w1", {}), Code.FailedPrecondition, /w1 cannot take the task: 1\/1 slots busy/);
    expect(coordinator.ledger.get("t2")).toBeUndefined();
  });

  it("refuses an unknown worker with NOT_FOUND", () => {
    const { coordinator, join, task } = fixture();
    join("w1");
    expectCode(() => coordinator.place(task("t1"), "nobody", {}), Code.NotFound, /worker nobody is not registered/);
  });

  it("refuses with UNAVAILABLE when no worker exists", () => {
    const { coordinator, task } = fixture();
    expectCode(() => coordinator.place(task("t1"), "", {}), Code.Unavailable, /no workers are registered/);
  });

  it("refuses with UNAVAILABLE when no worker offers a required capability", () => {
    const { coordinator, join, task } = fixture();
    join("w1", 2, ["cpu"]);
    expectCode(() => coordinator.place(task("t1", { requiredCapabilities: ["gpu"] }), "", {}), Code.Unavailable, /capability \[gpu\]/);
  });

  it("returns the existing task for the same id and content, ALREADY_EXISTS for other content", () => {
    const { coordinator, join, task } = fixture();
    join("w1");
    coordinator.place(task("t1", { payload: new Uint8Array([1]) }), "w1", {});
    expect(coordinator.place(task("t1", { payload: new Uint8Array([1]) }), "", {}).existing).toBe(true);
    expectCode(() => coordinator.place(task("t1", { payload: new Uint8Array([2]) }), "", {}), Code.AlreadyExists, /different content/);
    expect(coordinator.ledger.size).toBe(1);
  });

  it("queues when no worker has room, up to max_pending_tasks, then RESOURCE_EXHAUSTED naming the limit", () => {
    const { coordinator, join, task } = fixture();
    join("w1", 1);
    coordinator.place(task("t0"), "", {});
    for (const id of ["t1", "t2", "t3"]) expect(coordinator.place(task(id), "", {}).task?.state).toBe(TaskState.PENDING);
    expectCode(() => coordinator.place(task("t4"), "", {}), Code.ResourceExhausted, /max_pending_tasks=3/);
  });
});

describe("pending queue", () => {
  it("places waiting tasks by priority, then age, as slots free up", () => {
    const { coordinator, join, task } = fixture({ maxPendingTasks: 10 });
    const session = join("w1", 1);
    coordinator.place(task("first"), "", {});
    coordinator.place(task("low-old", { priority: 0 }), "", {});
    coordinator.place(task("high", { priority: 5 }), "", {});
    coordinator.place(task("low-new", { priority: 0 }), "", {});
    const order: string[] = [];
    for (const id of ["first", "high", "low-old"]) {
      const record = coordinator.ledger.get(id);
      expect(record?.task.state).toBe(TaskState.ASSIGNED);
      order.push(id);
      coordinator.taskFinished(session, create(TaskResultSchema, { taskId: id, attempt: 1, succeeded: true }));
      coordinator.schedulePending();
    }
    expect(order).toEqual(["first", "high", "low-old"]);
    expect(coordinator.ledger.get("low-new")?.task.state).toBe(TaskState.ASSIGNED);
  });
});

describe("failure detection", () => {
  it("reassigns a dead worker's tasks with attempt+1", () => {
    const { coordinator, clock, join, task } = fixture();
    join("w1");
    coordinator.place(task("t1"), "w1", {});
    clock.nowMs += 1000;
    join("w2");
    clock.nowMs += 2500; // w1 last heard 3.5 s ago, w2 2.5 s ago
    coordinator.checkLiveness();
    expect(coordinator.getWorker("w1")?.state).toBe(WorkerState.DEAD);
    coordinator.schedulePending();
    const t1 = coordinator.ledger.get("t1")?.task;
    expect(t1?.state).toBe(TaskState.ASSIGNED);
    expect(t1?.workerId).toBe("w2");
    expect(t1?.attempt).toBe(2);
    expect(t1?.history[0]?.error).toMatch(/worker w1 died: no heartbeat/);
  });

  it("gives a worker whose stream broke a grace period, then declares it dead", () => {
    const { coordinator, clock, join, task } = fixture();
    const session = join("w1");
    coordinator.place(task("t1"), "w1", {});
    coordinator.sessionEnded(session);
    expect(coordinator.getWorker("w1")?.state).toBe(WorkerState.SUSPECT);
    clock.nowMs += 900;
    coordinator.checkLiveness();
    expect(coordinator.getWorker("w1")?.state).toBe(WorkerState.SUSPECT);
    clock.nowMs += 200;
    coordinator.checkLiveness();
    expect(coordinator.getWorker("w1")?.state).toBe(WorkerState.DEAD);
    expect(coordinator.ledger.get("t1")?.task.state).toBe(TaskState.PENDING);
  });

  it("keeps a reconnecting worker's running tasks and ignores results from its old session", () => {
    const { coordinator, join, task } = fixture();
    const old = join("w1");
    coordinator.place(task("t1"), "w1", {});
    coordinator.sessionEnded(old);
    const fresh = join("w1", 2, [], ["t1"]);
    expect(coordinator.ledger.get("t1")?.task.state).toBe(TaskState.ASSIGNED);
    coordinator.taskFinished(old, create(TaskResultSchema, { taskId: "t1", attempt: 1, succeeded: true }));
    expect(coordinator.ledger.get("t1")?.task.state).toBe(TaskState.ASSIGNED);
    coordinator.taskFinished(fresh, create(TaskResultSchema, { taskId: "t1", attempt: 1, succeeded: true }));
    expect(coordinator.ledger.get("t1")?.task.state).toBe(TaskState.SUCCEEDED);
  });

  it("dead-letters a task after its last attempt with the error history", () => {
    const { coordinator, join, task } = fixture({ defaultMaxAttempts: 2 });
    const session = join("w1");
    coordinator.place(task("t1"), "w1", {});
    coordinator.taskFinished(session, create(TaskResultSchema, { taskId: "t1", attempt: 1, succeeded: false, error: "boom 1" }));
    coordinator.schedulePending();
    coordinator.taskFinished(session, create(TaskResultSchema, { taskId: "t1", attempt: 2, succeeded: false, error: "boom 2" }));
    const t1 = coordinator.ledger.get("t1")?.task;
    expect(t1?.state).toBe(TaskState.DEAD_LETTERED);
    expect(t1?.history.map((h) => h.error)).toEqual(["boom 1", "boom 2"]);
  });
});

