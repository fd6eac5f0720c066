import { create } from "@bufbuild/protobuf";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AssignmentSchema, type TaskResult } from "../contracts/index.js";
import { startTelemetry, type Telemetry } from "../telemetry/tracing.js";
import { resultOf, type SessionRequest } from "./session-messages.js";
import { createTaskRunner } from "./task-runner.js";

// Tracing on for this file only (vitest isolates test files). The incoming
// trace is not sampled (flags 00), so spans get ids and propagate but nothing
// is exported (the exporter would wait on a closed port).
let telemetry: Telemetry;
beforeAll(() => {
  telemetry = startTelemetry({
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
        traceContext: { traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-00` },
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
