// One task, one trace: spans from the balancer, the coordinator and the
// worker, joined across the gRPC calls and the session stream.
import { afterAll, describe, expect, it } from "vitest";
import { TaskState } from "../../libs/contracts/index.js";
import { startOtlpReceiver } from "../support/otlp-receiver.js";
import { startMesh } from "../support/mesh.js";
import { stopAll } from "../support/service-process.js";

afterAll(stopAll);

describe("tracing", () => {
  it("puts the balancer, coordinator and worker spans of one task in one trace", async () => {
    const receiver = await startOtlpReceiver();
    const mesh = await startMesh({
      workers: 1,
      env: { ...receiver.env, SCALEMESH_TELEMETRY_LOG_LEVEL: "debug" },
    });
    try {
      const assigned = await mesh.balancerClient.assign({
        task: { taskId: "traced-1", payload: new TextEncoder().encode("trace me") },
      });
      const done = await mesh.balancerClient.awaitTask(
        { taskId: assigned.taskId },
        { timeoutMs: 10_000 },
      );
      expect(done.task?.state).toBe(TaskState.SUCCEEDED);
      const deadline = Date.now() + 10_000;
      const assignSpan = () =>
        receiver.spans.find(
          (s) => s.service === "scalemesh-balancer" && s.name === "scalemesh.v1.Balancer/Assign",
        );
      let services = new Set<string>();
      while (Date.now() < deadline) {
        const root = assignSpan();
        if (root) {
          services = new Set(
            receiver.spans.filter((s) => s.traceId === root.traceId).map((s) => s.service),
          );
          if (services.size >= 3) break;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const root = assignSpan();
      expect(root, "balancer Assign span").toBeDefined();
      const trace = receiver.spans.filter((s) => s.traceId === root?.traceId);
      expect([...services].sort()).toEqual([
        "scalemesh-balancer",
        "scalemesh-coordinator",
        "scalemesh-worker-agent",
      ]);
      const names = trace.map((s) => `${s.service}:${s.name}`);
      expect(names).toContain("scalemesh-coordinator:scalemesh.v1.Coordinator/Place");
      expect(names).toContain("scalemesh-worker-agent:task.run");
      expect(names).toContain("scalemesh-coordinator:task.result");
      // The worker's span hangs under the coordinator's Place span (carried in the Assignment).
      const place = trace.find((s) => s.name === "scalemesh.v1.Coordinator/Place");
      const run = trace.find((s) => s.name === "task.run");
      expect(run?.parentSpanId).toBe(place?.spanId);
      // Logs written inside the trace carry its id.
      const logged = mesh.coordinator.logs.find(
        (l) => l.msg === "task assigned" && l.taskId === "traced-1",
      );
      expect(logged?.trace_id).toBe(root?.traceId);
      expect(logged?.span_id).toBe(place?.spanId);
    } finally {
      await mesh.stop();
      await receiver.close();
    }
  }, 60_000);

  it("exports in protobuf unless told otherwise, as OpenTelemetry's default protocol says", async () => {
    const receiver = await startOtlpReceiver();
    const mesh = await startMesh({
      workers: 1,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint },
    });
    try {
      const assigned = await mesh.balancerClient.assign({
        task: { taskId: "traced-proto", payload: new TextEncoder().encode("x") },
      });
      await mesh.balancerClient.awaitTask({ taskId: assigned.taskId }, { timeoutMs: 10_000 });
      const deadline = Date.now() + 10_000;
      const sent = (name: string) =>
        receiver.protobufExports.some((body) => body.includes(Buffer.from(name)));
      while (Date.now() < deadline && !(sent("scalemesh-balancer") && sent("task.run")))
        await new Promise((resolve) => setTimeout(resolve, 200));
      // Protobuf carries strings as they are: the resource's service names and the span names.
      expect(sent("scalemesh-balancer")).toBe(true);
      expect(sent("scalemesh.v1.Balancer/Assign")).toBe(true);
      expect(sent("task.run")).toBe(true);
      expect(receiver.spans).toEqual([]);
    } finally {
      await mesh.stop();
      await receiver.close();
    }
  }, 60_000);
});
