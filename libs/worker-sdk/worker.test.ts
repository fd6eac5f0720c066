import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TaskState, type TaskResult, type WorkerSessionRequest } from "../contracts/index.js";
import { createWorker, type Worker, type WorkerOptions } from "./worker.js";
import { durationOfMs } from "./session-messages.js";
import { NO_FREE_SLOT, WORKER_DRAINING } from "./task-runner.js";
import { startFakeCoordinator, type FakeCoordinator } from "./testing/fake-coordinator.js";
import type { TaskHandler } from "./task.js";

const silent = pino({ level: "silent" });
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const payloadOf = (value: string): Uint8Array => new TextEncoder().encode(value);

const isRegister = (m: WorkerSessionRequest): boolean => m.message.case === "register";
const isHeartbeat = (m: WorkerSessionRequest): boolean => m.message.case === "heartbeat";
const isResultFor = (taskId: string) => (m: WorkerSessionRequest): boolean => m.message.case === "taskResult" && m.message.value.taskId === taskId;
const isRunningUpdateFor = (taskId: string) => (m: WorkerSessionRequest): boolean =>
  m.message.case === "taskUpdate" && m.message.value.taskId === taskId && m.message.value.state === TaskState.RUNNING;

function resultIn(message: WorkerSessionRequest): TaskResult {
  if (message.message.case !== "taskResult") throw new Error(`expected a task result, got ${message.message.case}`);
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
    coordinator.assign({ taskId: "t1", attempt: 1, task: { taskId: "t1", payload: payloadOf("hi") } });
    await coordinator.waitFor(isRunningUpdateFor("t1"));
    const result = resultIn(await coordinator.waitFor(isResultFor("t1")));
    expect(result).toMatchObject({ taskId: "t1", attempt: 1, succeeded: true, error: "" });
    expect(text(result.output)).toBe("echo:hi");
    expect(result.duration).toBeDefined();
  });

  it("answers an assignment beyond its slots at once with a failed result naming no free slot", async () => {
    startWorker({ slots: 1 });
    await waitConnected();
    coordinator.assign({ taskId: "long", attempt: 1, task: { payload: payloadOf('{"sleepMs":300}') } });
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
    coordinator.assign({ taskId: "slow", attempt: 2, task: { timeout: durationOfMs(100) } });
    const result = resultIn(await coordinator.waitFor(isResultFor("slow")));
    expect(result).toMatchObject({ attempt: 2, succeeded: false, error: "timed out after 0.1 s" });
    expect(wasAborted).toBe(true);
  });

  it("reconnects with the same id, lists its running task, and sends the result after registering again", async () => {
    startWorker();
    await waitConnected();
    coordinator.assign({ taskId: "survivor", attempt: 1, task: { payload: payloadOf('{"sleepMs":400}') } });
    await coordinator.waitFor(isRunningUpdateFor("survivor"));
    coordinator.breakSessions();
    const secondRegister = await coordinator.waitFor(isRegister, { fromIndex: coordinator.received.findIndex(isRunningUpdateFor("survivor")) });
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
    coordinator.assign({ taskId: "offline", attempt: 1, task: { payload: payloadOf('{"sleepMs":100}') } });
    await coordinator.waitFor(isRunningUpdateFor("offline"));
    await coordinator.stop();
    // The task finishes while no coordinator listens; a new one comes up on the same port.
    await eventually(() => worker?.runningCount === 0 && !worker.isConnected, "the task to finish while disconnected");
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
    coordinator.assign({ taskId: "last", attempt: 1, task: { payload: payloadOf('{"sleepMs":200}') } });
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
    expect(lastHeartbeat?.message.case === "heartbeat" && lastHeartbeat.message.value).toMatchObject({ draining: true, freeSlots: 0, runningTaskIds: [] });
  });

  const waitConnected = (): Promise<void> => eventually(() => worker?.isConnected === true, "the worker to register");

  async function eventually(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
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
    expect(() => createWorker({ ...base, coordinator: "static://127.0.0.1:1", slots: 0 })).toThrow(/^slots: /);
  });

  it("generates a worker id once when none is given", () => {
    const worker = createWorker({ ...base, coordinator: "static://127.0.0.1:1", workerIdPrefix: "edge" });
    expect(worker.workerId).toMatch(/^edge-[a-z0-9.-]+-[0-9a-f]{6}$/);
    expect(worker.workerId).toBe(worker.workerId);
  });
});
