import { create } from "@bufbuild/protobuf";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import {
  HeartbeatSchema,
  RegisterSchema,
  TaskResultSchema,
  TaskSpecSchema,
  TaskState,
  WorkerState,
  type Task,
} from "../../libs/contracts/index.js";
import { createMemoryTaskStore, type TaskStore } from "../../libs/ledger/index.js";
import { Code, ConnectError } from "../../libs/rpc/index.js";
import { registry } from "../../libs/telemetry/index.js";
import { Coordinator, type CoordinatorSettings } from "./coordinator.js";
import { TASK_TYPE_LIMIT } from "./task-metrics.js";
import type { SessionMessage, WorkerSessionHandle } from "./worker-registry.js";

const SETTINGS: CoordinatorSettings = {
  heartbeatIntervalMs: 1000,
  heartbeatTimeoutMs: 3000,
  reconnectGraceMs: 1000,
  recoveryGraceMs: 5000,
  maxPendingTasks: 3,
  defaultMaxAttempts: 3,
  defaultTaskTimeoutMs: 60_000,
  deadWorkerRetentionMs: 60_000,
  isFailureDetectionEnabled: true,
  strategy: "least_loaded",
  retryBackoff: { initialMs: 1000, maxMs: 10_000 },
};

function fixture(
  settings: Partial<CoordinatorSettings> = {},
  store: TaskStore = createMemoryTaskStore(),
) {
  const clock = {
    nowMs: 1_000_000,
    now() {
      return this.nowMs;
    },
  };
  // random() = 0.5: every retry backoff is half its ceiling.
  const coordinator = new Coordinator(
    { ...SETTINGS, ...settings },
    pino({ level: "silent" }),
    store,
    clock,
    () => 0.5,
  );
  const join = (
    workerId: string,
    slots = 2,
    capabilities: string[] = [],
    runningTaskIds: string[] = [],
  ) =>
    coordinator.register(
      create(RegisterSchema, {
        worker: { workerId, slots, capabilities, address: `${workerId}:1` },
        runningTaskIds,
      }),
    ).session;
  const task = (
    taskId: string,
    init: Partial<{
      priority: number;
      requiredCapabilities: string[];
      payload: Uint8Array;
      taskType: string;
    }> = {},
  ) => create(TaskSpecSchema, { taskId, ...init });
  const result = (
    session: WorkerSessionHandle,
    taskId: string,
    attempt: number,
    succeeded: boolean,
    error = "",
  ) =>
    coordinator.taskFinished(
      session,
      create(TaskResultSchema, { taskId, attempt, succeeded, error }),
    );
  return { coordinator, clock, join, task, result, store };
}

/** Lets the group commit run and its deliveries go out. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

/** Messages pushed down a session so far, by kind. */
async function received(session: WorkerSessionHandle): Promise<SessionMessage[]> {
  await settle();
  session.outbound.close();
  const messages: SessionMessage[] = [];
  for await (const message of session.outbound) messages.push(message);
  return messages;
}

function assignmentsIn(messages: SessionMessage[]): string[] {
  return messages.flatMap((m) =>
    m.message?.case === "assignment" ? [m.message.value.taskId ?? ""] : [],
  );
}

async function expectCode(
  call: () => Promise<unknown> | unknown,
  code: Code,
  message: RegExp,
): Promise<void> {
  try {
    await call();
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectError);
    expect(Code[(error as ConnectError).code]).toBe(Code[code]);
    expect((error as ConnectError).rawMessage).toMatch(message);
    return;
  }
  throw new Error("expected a refusal");
}

describe("Place", () => {
  it("records the task as ASSIGNED, durably, then pushes it to the worker", async () => {
    const { coordinator, join, task, store } = fixture();
    const session = join("w1");
    const response = await coordinator.place(task("t1"), "w1", {});
    expect(response.task?.state).toBe(TaskState.ASSIGNED);
    expect(response.task?.workerId).toBe("w1");
    expect(response.workerAddress).toBe("w1:1");
    expect((await store.loadAll()).map((e) => e.task.spec?.taskId)).toEqual(["t1"]);
    expect(assignmentsIn(await received(session))).toEqual(["t1"]);
  });

  it("refuses a worker with no free slot, so the balancer tries the next", async () => {
    const { coordinator, join, task } = fixture();
    join("w1", 1);
    await coordinator.place(task("t1"), "w1", {});
    await expectCode(
      () => coordinator.place(task("t2"), "w1", {}),
      Code.FailedPrecondition,
      /w1 cannot take the task: 1\/1 slots busy/,
    );
    expect(coordinator.ledger.get("t2")).toBeUndefined();
  });

  it("checks capacity and reserves the slot in one step, so concurrent commits cannot overfill a worker", async () => {
    const { coordinator, join, task } = fixture();
    join("w1", 1);
    const outcomes = await Promise.allSettled([
      coordinator.place(task("a"), "w1", {}),
      coordinator.place(task("b"), "w1", {}),
    ]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(["fulfilled", "rejected"]);
  });

  it("refuses an unknown worker with NOT_FOUND", async () => {
    const { coordinator, join, task } = fixture();
    join("w1");
    await expectCode(
      () => coordinator.place(task("t1"), "nobody", {}),
      Code.NotFound,
      /worker nobody is not registered/,
    );
  });

  it("refuses with UNAVAILABLE when no worker exists", async () => {
    const { coordinator, task } = fixture();
    await expectCode(
      () => coordinator.place(task("t1"), "", {}),
      Code.Unavailable,
      /no workers are registered/,
    );
  });

  it("refuses with UNAVAILABLE when no worker offers a required capability", async () => {
    const { coordinator, join, task } = fixture();
    join("w1", 2, ["cpu"]);
    await expectCode(
      () => coordinator.place(task("t1", { requiredCapabilities: ["gpu"] }), "", {}),
      Code.Unavailable,
      /capability \[gpu\]/,
    );
  });

  it("returns the existing task for the same id and content, ALREADY_EXISTS for other content", async () => {
    const { coordinator, join, task } = fixture();
    join("w1");
    await coordinator.place(task("t1", { payload: new Uint8Array([1]) }), "w1", {});
    expect(
      (await coordinator.place(task("t1", { payload: new Uint8Array([1]) }), "", {})).existing,
    ).toBe(true);
    await expectCode(
      () => coordinator.place(task("t1", { payload: new Uint8Array([2]) }), "", {}),
      Code.AlreadyExists,
      /different content/,
    );
    expect(coordinator.ledger.size).toBe(1);
  });

  it("queues when no worker has room, up to max_pending_tasks, then RESOURCE_EXHAUSTED naming the limit", async () => {
    const { coordinator, join, task } = fixture();
    join("w1", 1);
    await coordinator.place(task("t0"), "", {});
    for (const id of ["t1", "t2", "t3"])
      expect((await coordinator.place(task(id), "", {})).task?.state).toBe(TaskState.PENDING);
    await expectCode(
      () => coordinator.place(task("t4"), "", {}),
      Code.ResourceExhausted,
      /max_pending_tasks=3/,
    );
  });

  it("answers UNAVAILABLE and keeps nothing when the ledger cannot be written", async () => {
    const store = createMemoryTaskStore();
    const { coordinator, join, task } = fixture({}, store);
    const session = join("w1", 1);
    const failing: TaskStore = store;
    const realCommit = failing.commit.bind(failing);
    failing.commit = () =>
      Promise.reject(new Error("task ledger /tmp/x.db cannot be written (SQLITE_FULL)"));
    await expectCode(
      () => coordinator.place(task("t1"), "w1", {}),
      Code.Unavailable,
      /ledger cannot be written.*SQLITE_FULL/,
    );
    expect(coordinator.ledger.get("t1")).toBeUndefined();
    expect(coordinator.getWorker("w1")?.inFlight).toBe(0);
    expect(assignmentsIn(await received(session))).toEqual([]);
    failing.commit = realCommit;
    const fresh = join("w1", 1);
    await expect(coordinator.place(task("t1"), "w1", {})).resolves.toBeDefined();
    expect(assignmentsIn(await received(fresh))).toEqual(["t1"]);
  });
});

describe("pending queue", () => {
  it("places waiting tasks by priority, then age, as slots free up", async () => {
    const { coordinator, join, task, result } = fixture({ maxPendingTasks: 10 });
    const session = join("w1", 1);
    await coordinator.place(task("first"), "", {});
    await coordinator.place(task("low-old", { priority: 0 }), "", {});
    await coordinator.place(task("high", { priority: 5 }), "", {});
    await coordinator.place(task("low-new", { priority: 0 }), "", {});
    const order: string[] = [];
    for (const id of ["first", "high", "low-old"]) {
      expect(coordinator.ledger.get(id)?.task.state).toBe(TaskState.ASSIGNED);
      order.push(id);
      result(session, id, 1, true);
      coordinator.schedulePending();
    }
    expect(order).toEqual(["first", "high", "low-old"]);
    expect(coordinator.ledger.get("low-new")?.task.state).toBe(TaskState.ASSIGNED);
  });
});

describe("retries", () => {
  it("retries a failed attempt after an exponential backoff with jitter", async () => {
    const { coordinator, clock, join, task, result } = fixture();
    const session = join("w1");
    await coordinator.place(task("t1"), "w1", {});
    result(session, "t1", 1, false, "boom");
    const t1 = coordinator.ledger.get("t1")?.task as Task;
    expect(t1.state).toBe(TaskState.PENDING);
    expect(t1.attempt).toBe(2);
    coordinator.schedulePending();
    expect(t1.state).toBe(TaskState.PENDING); // backoff: 0.5 x 1000 ms
    clock.nowMs += 499;
    coordinator.schedulePending();
    expect(t1.state).toBe(TaskState.PENDING);
    clock.nowMs += 2;
    coordinator.schedulePending();
    expect(t1.state).toBe(TaskState.ASSIGNED);
    result(session, "t1", 2, false, "boom again");
    clock.nowMs += 999; // second retry waits 0.5 x 2000 ms
    coordinator.schedulePending();
    expect(t1.state).toBe(TaskState.PENDING);
    clock.nowMs += 2;
    coordinator.schedulePending();
    expect(t1.state).toBe(TaskState.ASSIGNED);
  });

  it("dead-letters a task after its last attempt with the error history", async () => {
    const { coordinator, clock, join, task, result } = fixture({ defaultMaxAttempts: 2 });
    const session = join("w1");
    await coordinator.place(task("t1"), "w1", {});
    result(session, "t1", 1, false, "boom 1");
    clock.nowMs += 10_000;
    coordinator.schedulePending();
    result(session, "t1", 2, false, "boom 2");
    const t1 = coordinator.ledger.get("t1")?.task;
    expect(t1?.state).toBe(TaskState.DEAD_LETTERED);
    expect(t1?.history.map((h) => h.error)).toEqual(["boom 1", "boom 2"]);
  });

  it("cancels and retries a task past its timeout", async () => {
    const { coordinator, clock, join, task } = fixture({ defaultTaskTimeoutMs: 5000 });
    const session = join("w1");
    await coordinator.place(task("t1"), "w1", {});
    clock.nowMs += 5000 + 2500;
    coordinator.heartbeat(session, create(HeartbeatSchema, { runningTaskIds: ["t1"] }));
    coordinator.checkLiveness();
    const t1 = coordinator.ledger.get("t1")?.task;
    expect(t1?.state).toBe(TaskState.PENDING);
    expect(t1?.history[0]?.error).toMatch(/timed out after 5 s/);
    const messages = await received(session);
    expect(
      messages.some((m) => m.message?.case === "cancellation" && m.message.value.taskId === "t1"),
    ).toBe(true);
  });
});

describe("failure detection", () => {
  it("reassigns a dead worker's tasks at once with attempt+1", async () => {
    const { coordinator, clock, join, task } = fixture();
    join("w1");
    await coordinator.place(task("t1"), "w1", {});
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

  it("gives a worker whose stream broke a grace period, then declares it dead", async () => {
    const { coordinator, clock, join, task } = fixture();
    const session = join("w1");
    await coordinator.place(task("t1"), "w1", {});
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

  it("keeps a reconnecting worker's running tasks and ignores (but acks) results from its old session", async () => {
    const { coordinator, join, task, result } = fixture();
    const old = join("w1");
    await coordinator.place(task("t1"), "w1", {});
    coordinator.sessionEnded(old);
    const fresh = join("w1", 2, [], ["t1"]);
    expect(coordinator.ledger.get("t1")?.task.state).toBe(TaskState.ASSIGNED);
    result(old, "t1", 1, true);
    expect(coordinator.ledger.get("t1")?.task.state).toBe(TaskState.ASSIGNED);
    result(fresh, "t1", 1, true);
    expect(coordinator.ledger.get("t1")?.task.state).toBe(TaskState.SUCCEEDED);
    const acks = (await received(fresh)).filter((m) => m.message?.case === "resultAck");
    expect(acks).toHaveLength(1);
  });

  it("counts what a worker declared dead still runs as busy slots when it comes back, until those attempts end", async () => {
    const { coordinator, clock, join, task, result } = fixture();
    const frozen = join("w1");
    await coordinator.place(task("t1"), "w1", {});
    await coordinator.place(task("t2"), "w1", {});
    clock.nowMs += 1000;
    join("w2", 2);
    clock.nowMs += 2500; // w1 frozen: declared dead, its tasks go to w2
    coordinator.checkLiveness();
    coordinator.schedulePending();
    expect(coordinator.ledger.get("t1")?.task.workerId).toBe("w2");
    // It wakes up and registers again, still running its old attempts of t1 and t2.
    const back = join("w1", 2, [], ["t1", "t2"]);
    void frozen;
    expect(coordinator.getWorker("w1")?.freeSlots).toBe(0);
    await expectCode(
      () => coordinator.place(task("t3"), "w1", {}),
      Code.FailedPrecondition,
      /cannot take the task: 2\/2 s/,
    );
    // One old attempt ends (a stale result): one slot is free again.
    result(back, "t1", 1, true);
    expect(coordinator.getWorker("w1")?.freeSlots).toBe(1);
    // Its heartbeat says what it still runs.
    coordinator.heartbeat(back, create(HeartbeatSchema, { runningTaskIds: [] }));
    expect(coordinator.getWorker("w1")?.freeSlots).toBe(2);
  });

  it("gives back a task the worker's heartbeats stop reporting", async () => {
    const { coordinator, clock, join, task } = fixture();
    const session = join("w1");
    await coordinator.place(task("t1"), "w1", {});
    clock.nowMs += 1000;
    coordinator.heartbeat(session, create(HeartbeatSchema, { runningTaskIds: [] }));
    expect(coordinator.ledger.get("t1")?.task.state).toBe(TaskState.ASSIGNED); // may still be on the wire
    clock.nowMs += 2500;
    coordinator.heartbeat(session, create(HeartbeatSchema, { runningTaskIds: [] }));
    expect(coordinator.ledger.get("t1")?.task.state).toBe(TaskState.PENDING);
  });
});

describe("unchanged heartbeats", () => {
  it("renew a worker's lease and keep what it last reported, telling no watcher", async () => {
    const { coordinator, clock, join, task } = fixture({ defaultTaskTimeoutMs: 600_000 });
    const session = join("w1");
    await coordinator.place(task("t1"), "w1", {});
    coordinator.heartbeat(
      session,
      create(HeartbeatSchema, { runningTaskIds: ["t1"], freeSlots: 1, cpuUtilization: 0.5 }),
    );
    const watcher = coordinator.watch.subscribe();
    const seen: string[] = [];
    void (async () => {
      for await (const message of watcher) seen.push(message.event.case ?? "");
    })();
    await new Promise((resolve) => setTimeout(resolve, 30));
    for (let beat = 0; beat < 4; beat += 1) {
      clock.nowMs += 2500;
      coordinator.heartbeat(session, create(HeartbeatSchema, { unchanged: true }));
      coordinator.checkLiveness();
    }
    // 10 s after the full heartbeat (timeout 3 s): alive, t1 still its, the CPU as reported.
    expect(coordinator.getWorker("w1")?.state).toBe(WorkerState.ALIVE);
    expect(coordinator.getWorker("w1")?.cpuUtilization).toBe(0.5);
    expect(coordinator.ledger.get("t1")?.task.state).toBe(TaskState.ASSIGNED);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen).toEqual(["snapshot"]);
    // A full one is news for the watchers.
    coordinator.heartbeat(
      session,
      create(HeartbeatSchema, { runningTaskIds: ["t1"], freeSlots: 1 }),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen).toEqual(["snapshot", "workerChanged"]);
    coordinator.watch.unsubscribe(watcher);
  });

  it("still give back a task the worker never reported running", async () => {
    const { coordinator, clock, join, task } = fixture();
    const session = join("w1");
    await coordinator.place(task("t1"), "w1", {});
    clock.nowMs += 3500;
    coordinator.heartbeat(session, create(HeartbeatSchema, { unchanged: true }));
    expect(coordinator.ledger.get("t1")?.task.state).toBe(TaskState.PENDING);
    expect(coordinator.ledger.get("t1")?.task.history[0]?.error).toMatch(
      /worker w1 no longer reports it running/,
    );
  });

  it("do not keep a worker alive whose heartbeats stopped", () => {
    const { coordinator, clock, join } = fixture();
    const session = join("w1");
    clock.nowMs += 2000;
    coordinator.heartbeat(session, create(HeartbeatSchema, { unchanged: true }));
    clock.nowMs += 3500;
    coordinator.checkLiveness();
    expect(coordinator.getWorker("w1")?.state).toBe(WorkerState.DEAD);
  });
});

describe("recovery", () => {
  it("reloads the ledger: pending tasks wait, running ones stay with a worker that comes back, the rest return", async () => {
    const store = createMemoryTaskStore();
    const before = fixture({}, store);
    before.join("w1", 3);
    await before.coordinator.place(before.task("running"), "w1", {});
    await before.coordinator.place(before.task("lost"), "w1", {});
    await before.coordinator.place(before.task("done"), "w1", {});
    before.result(
      before.coordinator.register(
        create(RegisterSchema, {
          worker: { workerId: "w1", slots: 3 },
          runningTaskIds: ["running", "lost", "done"],
        }),
      ).session,
      "done",
      1,
      true,
    );
    await settle();

    const after = fixture({}, store);
    const summary = await after.coordinator.recover();
    expect(summary).toMatchObject({ tasks: 3, unfinishedOnWorkers: 2, workersAwaited: 1 });
    expect(after.coordinator.getWorker("w1")?.state).toBe(WorkerState.SUSPECT);
    after.join("w1", 3, [], ["running"]);
    expect(after.coordinator.ledger.get("running")?.task).toMatchObject({
      state: TaskState.ASSIGNED,
      attempt: 1,
      workerId: "w1",
    });
    expect(after.coordinator.ledger.get("lost")?.task).toMatchObject({ attempt: 2 });
    expect(after.coordinator.ledger.get("done")?.task.state).toBe(TaskState.SUCCEEDED);
  });

  it("returns a silent worker's tasks to PENDING once the recovery grace ends", async () => {
    const store = createMemoryTaskStore();
    const before = fixture({}, store);
    before.join("w1");
    await before.coordinator.place(before.task("t1"), "w1", {});
    const after = fixture({}, store);
    await after.coordinator.recover();
    after.clock.nowMs += 4900;
    after.coordinator.checkLiveness();
    expect(after.coordinator.ledger.get("t1")?.task.state).toBe(TaskState.ASSIGNED);
    after.clock.nowMs += 200;
    after.coordinator.checkLiveness();
    expect(after.coordinator.ledger.get("t1")?.task).toMatchObject({
      state: TaskState.PENDING,
      attempt: 2,
    });
  });
});

describe("operators", () => {
  it("cancels a running task and tells its worker", async () => {
    const { coordinator, join, task } = fixture();
    const session = join("w1");
    await coordinator.place(task("t1"), "w1", {});
    const cancelled = await coordinator.cancelTask("t1", "not needed");
    expect(cancelled.state).toBe(TaskState.CANCELLED);
    const messages = await received(session);
    expect(messages.find((m) => m.message?.case === "cancellation")?.message?.value).toMatchObject({
      taskId: "t1",
      attempt: 1,
      reason: "not needed",
    });
    await expectCode(
      () => coordinator.cancelTask("t1", ""),
      Code.FailedPrecondition,
      /already CANCELLED/,
    );
  });

  it("retries a dead-lettered task with a fresh set of attempts", async () => {
    const { coordinator, join, task, result } = fixture({ defaultMaxAttempts: 1 });
    const session = join("w1");
    await coordinator.place(task("t1"), "w1", {});
    result(session, "t1", 1, false, "boom");
    expect(coordinator.ledger.get("t1")?.task.state).toBe(TaskState.DEAD_LETTERED);
    const retried = await coordinator.retryTask("t1");
    expect(retried).toMatchObject({ state: TaskState.PENDING, attempt: 2 });
    coordinator.schedulePending();
    expect(coordinator.ledger.get("t1")?.task.state).toBe(TaskState.ASSIGNED);
    await expectCode(
      () => coordinator.retryTask("t1"),
      Code.FailedPrecondition,
      /only DEAD_LETTERED or CANCELLED/,
    );
  });

  it("sends nothing new to a cordoned or draining worker", async () => {
    const { coordinator, join, task } = fixture();
    join("w1");
    join("w2");
    coordinator.setCordoned("w1", true);
    coordinator.drainWorker("w2");
    await expectCode(
      () => coordinator.place(task("t1"), "w1", {}),
      Code.FailedPrecondition,
      /cordoned/,
    );
    await expectCode(
      () => coordinator.place(task("t2"), "w2", {}),
      Code.FailedPrecondition,
      /draining/,
    );
    expect((await coordinator.place(task("t3"), "", {})).task?.state).toBe(TaskState.PENDING);
    coordinator.setCordoned("w1", false);
    coordinator.schedulePending();
    expect(coordinator.ledger.get("t3")?.task.workerId).toBe("w1");
  });
});

/** The samples of one metric in the process registry. */
async function samplesOf(name: string) {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  return (await metric.get()).values as {
    metricName?: string;
    labels: Record<string, string | number>;
    value: number;
  }[];
}

async function sampleOf(name: string, labels: Record<string, string> = {}, series = name) {
  const found = (await samplesOf(name)).find(
    (sample) =>
      (sample.metricName ?? name) === series &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  return found?.value;
}

async function histogramOf(name: string, labels: Record<string, string>) {
  return {
    count: await sampleOf(name, labels, `${name}_count`),
    sum: await sampleOf(name, labels, `${name}_sum`),
  };
}

describe("the coordinator's metrics", () => {
  it("time an attempt's queue wait without its retry backoff, its run, and the task's submit to result, by type and outcome", async () => {
    const { coordinator, clock, join, task, result } = fixture();
    const type = "metrics-resize";
    const session = join("w1", 1);
    await coordinator.place(task("m1", { taskType: type }), "w1", {}); // placed at once: waited 0 s
    clock.nowMs += 2000;
    result(session, "m1", 1, false, "boom"); // ran 2 s; retried after 0.5 x 1000 ms
    clock.nowMs += 3000;
    coordinator.schedulePending(); // waited 3 s, 0.5 s of it the backoff
    clock.nowMs += 1000;
    result(session, "m1", 2, true); // ran 1 s; 6 s from submit
    await settle();
    const cases: [string, Record<string, string>, { count: number; sum: number }][] = [
      ["scalemesh_task_queue_wait_seconds", { type }, { count: 2, sum: 2.5 }],
      ["scalemesh_task_run_seconds", { type, outcome: "failed" }, { count: 1, sum: 2 }],
      ["scalemesh_task_run_seconds", { type, outcome: "succeeded" }, { count: 1, sum: 1 }],
      ["scalemesh_task_run_seconds", { type, outcome: "lost" }, { count: 0, sum: 0 }],
      [
        "scalemesh_task_submit_to_result_seconds",
        { type, outcome: "succeeded" },
        { count: 1, sum: 6 },
      ],
      [
        "scalemesh_task_submit_to_result_seconds",
        { type, outcome: "dead_lettered" },
        { count: 0, sum: 0 },
      ],
    ];
    for (const [name, labels, expected] of cases)
      expect(await histogramOf(name, labels), `${name} ${JSON.stringify(labels)}`).toEqual(
        expected,
      );
    await coordinator.stop();
  });

  it("keep task types to a bounded set: past the limit a type is other, an empty one none", async () => {
    const { coordinator, join, task } = fixture();
    join("w1", 100);
    for (let i = 0; i < TASK_TYPE_LIMIT + 5; i += 1)
      await coordinator.place(task(`bounded-${i}`, { taskType: `bounded-type-${i}` }), "", {});
    await coordinator.place(task("untyped"), "", {});
    const types = new Set(
      (await samplesOf("scalemesh_task_queue_wait_seconds")).map((s) => String(s.labels.type)),
    );
    expect(types.size).toBe(TASK_TYPE_LIMIT + 2);
    expect(types).toContain("other");
    expect(types).toContain("none");
    expect(types).not.toContain(`bounded-type-${TASK_TYPE_LIMIT + 4}`);
    expect(
      await sampleOf(
        "scalemesh_task_queue_wait_seconds",
        { type: "none" },
        "scalemesh_task_queue_wait_seconds_count",
      ),
    ).toBeGreaterThanOrEqual(1);
    await coordinator.stop();
  });

  it("show each live worker's slots, in-flight tasks, heartbeat age and sessions, and how late heartbeats come", async () => {
    const { coordinator, clock, join, task } = fixture();
    const lag = {
      name: "scalemesh_coordinator_heartbeat_lag_seconds",
      series: "scalemesh_coordinator_heartbeat_lag_seconds_sum",
    };
    const lagBefore = (await sampleOf(lag.name, {}, lag.series)) ?? 0;
    join("pw1", 3);
    const session = join("pw1", 3); // a reconnect: its second session
    join("pw2", 2);
    const leaving = join("pw2", 2);
    await coordinator.place(task("p1"), "pw1", {});
    clock.nowMs += 1250; // the heartbeat interval is 1 s: 0.25 s late
    coordinator.heartbeat(session, create(HeartbeatSchema, { runningTaskIds: ["p1"] }));
    coordinator.sessionEnded(leaving); // pw2 leaves for good: dead after the grace
    clock.nowMs += 2500; // past pw2's reconnect grace (1 s), within pw1's heartbeat timeout (3 s)
    coordinator.checkLiveness();
    const worker = { worker_id: "pw1" };
    expect(await sampleOf("scalemesh_coordinator_worker_slots", worker)).toBe(3);
    expect(await sampleOf("scalemesh_coordinator_worker_in_flight_tasks", worker)).toBe(1);
    expect(await sampleOf("scalemesh_coordinator_worker_heartbeat_age_seconds", worker)).toBe(2.5);
    expect(await sampleOf("scalemesh_coordinator_worker_sessions_total", worker)).toBe(2);
    expect(
      await sampleOf("scalemesh_coordinator_worker_slots", { worker_id: "pw2" }),
    ).toBeUndefined();
    expect(
      await sampleOf("scalemesh_coordinator_worker_sessions_total", { worker_id: "pw2" }),
    ).toBe(2);
    expect(await sampleOf("scalemesh_coordinator_workers", { state: "dead" })).toBe(1);
    expect(((await sampleOf(lag.name, {}, lag.series)) ?? 0) - lagBefore).toBeCloseTo(0.25);
    await coordinator.stop();
  });

  it("count dead letters", async () => {
    const { coordinator, clock, join, task, result } = fixture({ defaultMaxAttempts: 1 });
    const before = (await sampleOf("scalemesh_coordinator_dead_lettered_tasks_total")) ?? 0;
    const session = join("w1");
    await coordinator.place(task("d1"), "w1", {});
    clock.nowMs += 10;
    result(session, "d1", 1, false, "boom");
    expect(await sampleOf("scalemesh_coordinator_dead_lettered_tasks_total")).toBe(before + 1);
    await coordinator.stop();
  });
});
