import { create } from "@bufbuild/protobuf";
import { pino } from "pino";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AssignmentSchema, type TaskResult } from "../contracts/index.js";
import { startTelemetry, type Telemetry } from "../telemetry/tracing.js";
import { resultOf, type SessionRequest } from "./session-messages.js";
import { createTaskRunner, type TaskReport } from "./task-runner.js";

// Tracing on for this file only (vitest isolates test files). The incoming
// trace is not sampled (flags 00), so spans get ids and propagate but nothing
// is exported (the exporter would wait on a closed port).
let telemetry: Telemetry;
beforeAll(async () => {
  telemetry = await startTelemetry({
    serviceName: "worker-sdk-test",
    serviceVersion: "test",
    sampleRatio: 1,
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" },
  });
});
afterAll(async () => {
  await telemetry.shutdown().catch(() => undefined);
});

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID = "00f067aa0ba902b7";
/** Not sampled, so the spans of a test are never exported (a sampled one would hold shutdown on the closed port). */
const UNSAMPLED = { traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-00` };

describe("task runner tracing", () => {
  it("runs the handler in a task.run span under the assignment's trace and returns that span's context", async () => {
    const sent: SessionRequest[] = [];
    let activeTraceparent = "";
    const runner = createTaskRunner({
      slots: 1,
      handler: async () => "ok",
      defaultTimeoutMs: 1000,
      logger: pino({ level: "silent" }),
      send: (message) => sent.push(message),
    });
    runner.accept(
      create(AssignmentSchema, {
        taskId: "traced",
        attempt: 1,
        traceContext: UNSAMPLED,
      }),
    );
    await runner.whenIdle();
    const result = sent.map(resultOf).find((r): r is TaskResult => r !== undefined);
    activeTraceparent = result?.traceContext["traceparent"] ?? "";
    const [, traceId, spanId] = activeTraceparent.split("-");
    expect(telemetry.isTracing).toBe(true);
    expect(traceId).toBe(TRACE_ID);
    expect(spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(spanId).not.toBe(PARENT_SPAN_ID);
    expect(sent.map((m) => m.message.case)).toEqual(["taskUpdate", "taskResult"]);
  });
});

describe("task runner cancellation", () => {
  const start = (): {
    runner: ReturnType<typeof createTaskRunner>;
    sent: SessionRequest[];
    reports: TaskReport[];
  } => {
    const sent: SessionRequest[] = [];
    const reports: TaskReport[] = [];
    const runner = createTaskRunner({
      slots: 2,
      handler: (task) => sleep(5000, "done", { signal: task.signal }),
      defaultTimeoutMs: 10_000,
      logger: pino({ level: "silent" }),
      send: (message) => sent.push(message),
      onTaskFinished: (report) => reports.push(report),
    });
    runner.accept(create(AssignmentSchema, { taskId: "t", attempt: 2, traceContext: UNSAMPLED }));
    return { runner, sent, reports };
  };

  it("cancels the running attempt: reported failed as cancelled, its slot freed", async () => {
    const { runner, sent, reports } = start();
    expect(runner.cancel("t", 2, "operator")).toBe(true);
    await runner.whenIdle();
    expect(sent.map(resultOf).find((r) => r !== undefined)).toMatchObject({
      taskId: "t",
      attempt: 2,
      succeeded: false,
      error: "cancelled: operator",
    });
    expect(reports.map((report) => report.outcome.kind)).toEqual(["cancelled"]);
    expect(runner.runningCount).toBe(0);
  });

  it.each([
    { name: "another attempt of the task", taskId: "t", attempt: 1 },
    { name: "a task it does not run", taskId: "other", attempt: 2 },
  ])("ignores a cancellation for $name", async ({ taskId, attempt }) => {
    const { runner, sent } = start();
    expect(runner.cancel(taskId, attempt, "not this one")).toBe(false);
    expect(runner.runningTaskIds()).toEqual(["t"]);
    runner.abortAll("test over");
    await runner.whenIdle();
    expect(sent.map(resultOf).find((r) => r !== undefined)?.error).toBe("aborted: test over");
  });
});
