import { setTimeout as sleep } from "node:timers/promises";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TaskState, type TaskResult, type WorkerSessionRequest } from "../contracts/index.js";
import { createWorker, type Worker, type WorkerOptions } from "./worker.js";
import { NO_FREE_SLOT, WORKER_DRAINING, type TaskReport } from "./task-runner.js";
import {
  startFakeCoordinator,
  type FakeCoordinator,
  type FakeCoordinatorOptions,
} from "./testing/fake-coordinator.js";
import { TaskCancelledError, type TaskHandler } from "./task.js";

const silent = pino({ level: "silent" });
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const payloadOf = (value: string): Uint8Array => new TextEncoder().encode(value);

const isRegister = (m: WorkerSessionRequest): boolean => m.message.case === "register";
const isHeartbeat = (m: WorkerSessionRequest): boolean => m.message.case === "heartbeat";
const isResultFor =
  (taskId: string) =>
  (m: WorkerSessionRequest): boolean =>
    m.message.case === "taskResult" && m.message.value.taskId === taskId;
const isRunningUpdateFor =
  (taskId: string) =>
  (m: WorkerSessionRequest): boolean =>
    m.message.case === "taskUpdate" &&
    m.message.value.taskId === taskId &&
    m.message.value.state === TaskState.RUNNING;

function resultIn(message: WorkerSessionRequest): TaskResult {
  if (message.message.case !== "taskResult")
    throw new Error(`expected a task result, got ${message.message.case}`);
  return message.message.value;
}

/** Echoes the payload; a payload of {"sleepMs":N} sleeps first (honouring the signal). */
const testHandler: TaskHandler = async (task) => {
  const body = text(task.payload);
  if (body.startsWith("{")) {
    const { sleepMs } = JSON.parse(body) as { sleepMs: number };
    await sleep(sleepMs, undefined, { signal: task.signal });
    return `slept ${sleepMs}`;
  }
  return `echo:${body}`;
};

describe("createWorker against a fake coordinator", () => {
  let coordinator: FakeCoordinator;
  let worker: Worker | undefined;

  const startWorker = (overrides: Partial<WorkerOptions> = {}): Worker => {
    worker = createWorker({
      coordinator: `static://${coordinator.address}`,
      workerId: "w-test",
      address: "127.0.0.1:7101",
      slots: 2,
      region: "eu",
      zone: "eu-a",
      capabilities: ["gpu"],
      labels: { tier: "test" },
      handler: testHandler,
      defaultTaskTimeoutMs: 5000,
      reconnect: { initialMs: 10, maxMs: 50 },
      rpc: { defaultDeadlineMs: 2000 },
      logger: silent,
      ...overrides,
    });
    worker.start();
    return worker;
  };

  beforeEach(async () => {
    coordinator = await startFakeCoordinator({ heartbeatIntervalMs: 50 });
  });

  /** For tests that ack by hand, or like a coordinator that never acks. */
  const useCoordinator = async (overrides: FakeCoordinatorOptions): Promise<void> => {
    await coordinator.stop();
    coordinator = await startFakeCoordinator({ heartbeatIntervalMs: 50, ...overrides });
  };

  /** Breaks the session and waits for the worker to register again; returns the new Register's index in `received`. */
  const reconnect = async (): Promise<number> => {
    const fromIndex = coordinator.received.length;
    coordinator.breakSessions();
    const register = await coordinator.waitFor(isRegister, { fromIndex });
    return coordinator.received.indexOf(register);
  };

  const runningTaskIdsIn = (message: WorkerSessionRequest | undefined): string[] => {
    if (message?.message.case !== "register")
      throw new Error(`expected a register, got ${message?.message.case}`);
    return message.message.value.runningTaskIds;
  };

  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    await coordinator.stop();
  });

  it("registers first with its spec, then heartbeats with free slots and load", async () => {
    const registered = new Promise((resolve) => startWorker({ onRegistered: resolve }));
    await registered;
    const first = coordinator.received[0];
    expect(first?.message.case).toBe("register");
    if (first?.message.case !== "register") return;
    expect(first.message.value.worker).toMatchObject({
      workerId: "w-test",
      address: "127.0.0.1:7101",
      slots: 2,
      region: "eu",
      zone: "eu-a",
      capabilities: ["gpu"],
      labels: { tier: "test" },
    });
    expect(first.message.value.runningTaskIds).toEqual([]);
    const heartbeat = await coordinator.waitFor(isHeartbeat);
    if (heartbeat.message.case !== "heartbeat") throw new Error("unreachable");
    expect(heartbeat.message.value.freeSlots).toBe(2);
    expect(heartbeat.message.value.memoryRssBytes).toBeGreaterThan(0n);
    expect(heartbeat.message.value.cpuUtilization).toBeGreaterThanOrEqual(0);
    expect(worker?.isConnected).toBe(true);
  });

  it("runs an assignment: RUNNING update, then a succeeded result with output and duration", async () => {
    startWorker();
    await coordinator.waitFor(isRegister);
    await waitConnected();
    coordinator.assign({
      taskId: "t1",
      attempt: 1,
      task: { taskId: "t1", payload: payloadOf("hi") },
    });
    await coordinator.waitFor(isRunningUpdateFor("t1"));
    const result = resultIn(await coordinator.waitFor(isResultFor("t1")));
    expect(result).toMatchObject({ taskId: "t1", attempt: 1, succeeded: true, error: "" });
    expect(text(result.output)).toBe("echo:hi");
    expect(result.duration).toBeDefined();
  });

  it("answers an assignment beyond its slots at once with a failed result naming no free slot", async () => {
    startWorker({ slots: 1 });
    await waitConnected();
    coordinator.assign({
      taskId: "long",
      attempt: 1,
      task: { payload: payloadOf('{"sleepMs":300}') },
    });
    await coordinator.waitFor(isRunningUpdateFor("long"));
    coordinator.assign({ taskId: "extra", attempt: 1, task: { payload: payloadOf("x") } });
    const refused = resultIn(await coordinator.waitFor(isResultFor("extra")));
    expect(refused).toMatchObject({ succeeded: false, error: NO_FREE_SLOT });
    const finished = resultIn(await coordinator.waitFor(isResultFor("long")));
    expect(finished.succeeded).toBe(true);
  });

  it("times a task out after its spec's timeout and aborts the handler's signal", async () => {
    let wasAborted = false;
    startWorker({
      handler: (task) =>
        new Promise((_, reject) => {
          task.signal.addEventListener("abort", () => {
            wasAborted = true;
            reject(new Error("aborted"));
          });
        }),
    });
    await waitConnected();
    coordinator.assign({ taskId: "slow", attempt: 2, task: { timeout: durationFromMs(100) } });
    const result = resultIn(await coordinator.waitFor(isResultFor("slow")));
    expect(result).toMatchObject({ attempt: 2, succeeded: false, error: "timed out after 0.1 s" });
    expect(wasAborted).toBe(true);
  });

  it("cancels a running attempt: aborts the handler's signal and reports a failed result 'cancelled: <reason>'", async () => {
    let abortReason: unknown;
    const reports: TaskReport[] = [];
    startWorker({
      handler: (task) =>
        new Promise((_, reject) => {
          task.signal.addEventListener("abort", () => {
            abortReason = task.signal.reason;
            reject(new Error("stopped"));
          });
        }),
      onTaskFinished: (report) => reports.push(report),
    });
    await waitConnected();
    coordinator.assign({ taskId: "doomed", attempt: 3, task: {} });
    await coordinator.waitFor(isRunningUpdateFor("doomed"));
    coordinator.cancel({ taskId: "doomed", attempt: 3, reason: "operator asked" });
    const result = resultIn(await coordinator.waitFor(isResultFor("doomed")));
    expect(result).toMatchObject({
      attempt: 3,
      succeeded: false,
      error: "cancelled: operator asked",
    });
    expect(abortReason).toBeInstanceOf(TaskCancelledError);
    expect(reports.map((report) => report.outcome.kind)).toEqual(["cancelled"]);
    expect(worker?.runningCount).toBe(0);
  });

  it.each([
    { name: "another attempt of a task it runs", cancellation: { taskId: "kept", attempt: 1 } },
    { name: "a task it does not run", cancellation: { taskId: "elsewhere", attempt: 2 } },
  ])("ignores a cancellation for $name", async ({ cancellation }) => {
    startWorker();
    await waitConnected();
    coordinator.assign({
      taskId: "kept",
      attempt: 2,
      task: { payload: payloadOf('{"sleepMs":200}') },
    });
    await coordinator.waitFor(isRunningUpdateFor("kept"));
    coordinator.cancel({ ...cancellation, reason: "not this one" });
    const result = resultIn(await coordinator.waitFor(isResultFor("kept")));
    expect(result).toMatchObject({ attempt: 2, succeeded: true, error: "" });
  });

  it("forgets a result once the coordinator acks it", async () => {
    startWorker();
    await waitConnected();
    coordinator.assign({ taskId: "acked", attempt: 1, task: { payload: payloadOf("x") } });
    await coordinator.waitFor(isResultFor("acked"));
    await eventually(() => worker?.unacknowledgedResultCount === 0, "the ack to arrive");
    const registerAt = await reconnect();
    expect(runningTaskIdsIn(coordinator.received[registerAt])).toEqual([]);
  });

  it("re-sends an unacknowledged result after every reconnect until it is acked, and not after", async () => {
    await useCoordinator({ ackResults: false });
    startWorker();
    await waitConnected();
    coordinator.assign({ taskId: "unacked", attempt: 1, task: { payload: payloadOf("x") } });
    const first = resultIn(await coordinator.waitFor(isResultFor("unacked")));
    expect(worker?.unacknowledgedResultCount).toBe(1);

    for (let session = 2; session <= 3; session += 1) {
      const registerAt = await reconnect();
      expect(runningTaskIdsIn(coordinator.received[registerAt])).toEqual(["unacked"]);
      const resent = await coordinator.waitFor(isResultFor("unacked"), {
        fromIndex: registerAt + 1,
      });
      expect(resultIn(resent)).toEqual(first);
      // Sent first, before any heartbeat of the new session.
      const firstHeartbeat = await coordinator.waitFor(isHeartbeat, { fromIndex: registerAt + 1 });
      expect(coordinator.received.indexOf(resent)).toBeGreaterThan(registerAt);
      expect(coordinator.received.indexOf(resent)).toBeLessThan(
        coordinator.received.indexOf(firstHeartbeat),
      );
    }

    coordinator.ack({ taskId: "unacked", attempt: 1 });
    await eventually(() => worker?.unacknowledgedResultCount === 0, "the ack to arrive");
    const registerAt = await reconnect();
    expect(runningTaskIdsIn(coordinator.received[registerAt])).toEqual([]);
    // Anything re-sent would have gone out before the session's first heartbeat.
    await coordinator.waitFor(isHeartbeat, { fromIndex: registerAt + 1 });
    expect(coordinator.received.slice(registerAt).some(isResultFor("unacked"))).toBe(false);
    expect(coordinator.sessionCount).toBe(4);
  });

  it("keeps a result acked for another attempt", async () => {
    await useCoordinator({ ackResults: false });
    startWorker();
    await waitConnected();
    coordinator.assign({ taskId: "twice", attempt: 2, task: { payload: payloadOf("x") } });
    await coordinator.waitFor(isResultFor("twice"));
    coordinator.ack({ taskId: "twice", attempt: 1 });
    const registerAt = await reconnect();
    expect(runningTaskIdsIn(coordinator.received[registerAt])).toEqual(["twice"]);
    expect(
      resultIn(await coordinator.waitFor(isResultFor("twice"), { fromIndex: registerAt + 1 }))
        .attempt,
    ).toBe(2);
  });

  it("reconnects with the same id, lists its running task, and sends the result after registering again", async () => {
    startWorker();
    await waitConnected();
    coordinator.assign({
      taskId: "survivor",
      attempt: 1,
      task: { payload: payloadOf('{"sleepMs":400}') },
    });
    await coordinator.waitFor(isRunningUpdateFor("survivor"));
    coordinator.breakSessions();
    const secondRegister = await coordinator.waitFor(isRegister, {
      fromIndex: coordinator.received.findIndex(isRunningUpdateFor("survivor")),
    });
    if (secondRegister.message.case !== "register") throw new Error("unreachable");
    expect(secondRegister.message.value.worker?.workerId).toBe("w-test");
    expect(secondRegister.message.value.runningTaskIds).toEqual(["survivor"]);
    const result = resultIn(await coordinator.waitFor(isResultFor("survivor")));
    expect(result.succeeded).toBe(true);
    expect(coordinator.sessionCount).toBe(2);
  });

  it("buffers a result finished while disconnected and sends it right after re-registering", async () => {
    const port = coordinator.port;
    startWorker({ reconnect: { initialMs: 300, maxMs: 300 } });
    await waitConnected();
    coordinator.assign({
      taskId: "offline",
      attempt: 1,
      task: { payload: payloadOf('{"sleepMs":100}') },
    });
    await coordinator.waitFor(isRunningUpdateFor("offline"));
    await coordinator.stop();
    // The task finishes while no coordinator listens; a new one comes up on the same port.
    await eventually(
      () => worker?.runningCount === 0 && !worker.isConnected,
      "the task to finish while disconnected",
    );
    coordinator = await startFakeCoordinator({ heartbeatIntervalMs: 50, port });
    const register = await coordinator.waitFor(isRegister, { timeoutMs: 8000 });
    if (register.message.case !== "register") throw new Error("unreachable");
    expect(register.message.value.runningTaskIds).toEqual(["offline"]);
    const result = resultIn(await coordinator.waitFor(isResultFor("offline")));
    expect(result.succeeded).toBe(true);
    const resultIndex = coordinator.received.findIndex(isResultFor("offline"));
    expect(coordinator.received.findIndex(isRegister)).toBeLessThan(resultIndex);
  });

  it("drains: refuses new work, finishes the running task, reports it, closes the session", async () => {
    const current = startWorker();
    await waitConnected();
    coordinator.assign({
      taskId: "last",
      attempt: 1,
      task: { payload: payloadOf('{"sleepMs":200}') },
    });
    await coordinator.waitFor(isRunningUpdateFor("last"));
    const drained = current.drain({ flushTimeoutMs: 2000 });
    expect(current.isDraining).toBe(true);
    coordinator.assign({ taskId: "late", attempt: 1, task: { payload: payloadOf("x") } });
    const refused = resultIn(await coordinator.waitFor(isResultFor("late")));
    expect(refused).toMatchObject({ succeeded: false, error: WORKER_DRAINING });
    await drained;
    const result = resultIn(await coordinator.waitFor(isResultFor("last"), { timeoutMs: 100 }));
    expect(result.succeeded).toBe(true);
    expect(current.isConnected).toBe(false);
    expect(current.runningCount).toBe(0);
    expect(coordinator.sessionCount).toBe(1);
    const lastHeartbeat = coordinator.received.filter(isHeartbeat).at(-1);
    expect(
      lastHeartbeat?.message.case === "heartbeat" && lastHeartbeat.message.value,
    ).toMatchObject({ draining: true, freeSlots: 0, runningTaskIds: [] });
  });

  it("drains only once the coordinator acked the last result, not when it was written", async () => {
    await useCoordinator({ ackResults: false });
    const current = startWorker();
    await waitConnected();
    coordinator.assign({
      taskId: "last",
      attempt: 1,
      task: { payload: payloadOf('{"sleepMs":50}') },
    });
    await coordinator.waitFor(isRunningUpdateFor("last"));
    let isDrained = false;
    const drained = current.drain({ flushTimeoutMs: 5000 }).then(() => {
      isDrained = true;
    });
    await coordinator.waitFor(isResultFor("last"));
    // Waiting for something not to happen: a short pause is the only way to see it.
    await sleep(200);
    expect(isDrained).toBe(false);
    expect(current.isConnected).toBe(true);
    coordinator.ack({ taskId: "last", attempt: 1 });
    await drained;
    expect(current.unacknowledgedResultCount).toBe(0);
    expect(current.isConnected).toBe(false);
    expect(coordinator.sessionCount).toBe(1);
  });

  it("ends a drain after the flush timeout when the coordinator never acks (an older coordinator)", async () => {
    await useCoordinator({ ackResults: false });
    const current = startWorker();
    await waitConnected();
    coordinator.assign({ taskId: "never-acked", attempt: 1, task: { payload: payloadOf("x") } });
    await coordinator.waitFor(isResultFor("never-acked"));
    const startedMs = Date.now();
    await current.drain({ flushTimeoutMs: 300 });
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(290);
    expect(current.unacknowledgedResultCount).toBe(1);
    expect(current.isConnected).toBe(false);
  });

  const waitConnected = (): Promise<void> =>
    eventually(() => worker?.isConnected === true, "the worker to register");

  async function eventually(
    condition: () => boolean,
    what: string,
    timeoutMs = 5000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(5);
    }
  }
});

describe("createWorker options", () => {
  const base = { slots: 1, handler: testHandler, defaultTaskTimeoutMs: 1000, logger: silent };

  it("refuses a coordinator URI it cannot resolve, naming the option", () => {
    expect(() => createWorker({ ...base, coordinator: "nope" })).toThrow(/^coordinator: /);
  });

  it("refuses fewer than one slot", () => {
    expect(() => createWorker({ ...base, coordinator: "static://127.0.0.1:1", slots: 0 })).toThrow(
      /^slots: /,
    );
  });

  it("generates a worker id once when none is given", () => {
    const worker = createWorker({
      ...base,
      coordinator: "static://127.0.0.1:1",
      workerIdPrefix: "edge",
    });
    expect(worker.workerId).toMatch(/^edge-[a-z0-9.-]+-[0-9a-f]{6}$/);
    expect(worker.workerId).toBe(worker.workerId);
  });
});
