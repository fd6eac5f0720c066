// One task's whole trace as a tree, from a traced client through the mesh to
// the result: a real mesh exporting to a real OTLP/HTTP receiver, this test
// process exporting its own client spans to the same receiver. The rendered
// tree is printed (set TRACE_TREE_FILE to have it written to a file); the
// README shows one run's.
import { writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { TaskState } from "../../libs/contracts/index.js";
import { inSpan, startTelemetry } from "../../libs/telemetry/tracing.js";
import { startOtlpReceiver } from "../support/otlp-receiver.js";
import { startMesh } from "../support/mesh.js";
import { stopAll } from "../support/service-process.js";
import { renderTraceTree, traceShape, traceTree, type TraceNode } from "../support/trace-tree.js";

afterAll(stopAll);

describe("a task's trace", () => {
  it("hangs Place, the worker's run and the result under the client's Assign, and WaitTask under its AwaitTask", async () => {
    const receiver = await startOtlpReceiver();
    // The exporter reads its endpoint from process.env, so this process's
    // client spans go to the receiver by way of the environment.
    const restoreEnv = setEnv({
      ...receiver.env,
      OTEL_METRICS_EXPORTER: "none",
      OTEL_LOGS_EXPORTER: "none",
    });
    let client = await startTelemetry({
      serviceName: "client",
      serviceVersion: "test",
      sampleRatio: 1,
    });
    const mesh = await startMesh({ workers: 1, env: receiver.env });
    try {
      const traceId = await inSpan("submit task", {}, async (span) => {
        const assigned = await mesh.balancerClient.assign({
          task: { taskId: "tree-1", payload: new TextEncoder().encode("draw me") },
        });
        const done = await mesh.balancerClient.awaitTask(
          { taskId: assigned.taskId },
          { timeoutMs: 10_000 },
        );
        expect(done.task?.state).toBe(TaskState.SUCCEEDED);
        return span?.spanContext().traceId ?? "";
      });
      await client.shutdown(); // flushes the client's spans
      client = NOT_TRACING;
      // The services export every 500 ms: wait until the tree has the
      // expected shape, then compare (a wrong shape fails with the diff).
      const expected = [
        "client  submit task (internal)",
        "├─ client  scalemesh.v1.Balancer/Assign (client)",
        "│  └─ scalemesh-balancer  scalemesh.v1.Balancer/Assign (server)",
        "│     └─ scalemesh-coordinator  scalemesh.v1.Coordinator/Place (internal)",
        "│        └─ scalemesh-worker-agent  task.run (internal)",
        "│           └─ scalemesh-coordinator  task.result (internal)",
        "└─ client  scalemesh.v1.Balancer/AwaitTask (client)",
        "   └─ scalemesh-balancer  scalemesh.v1.Balancer/AwaitTask (server)",
        "      └─ scalemesh-balancer  scalemesh.v1.Coordinator/WaitTask (client)",
        "         └─ scalemesh-coordinator  scalemesh.v1.Coordinator/WaitTask (server)",
      ];
      let tree: TraceNode[] = [];
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        tree = traceTree(receiver.spans, traceId);
        if (traceShape(tree).join("\n") === expected.join("\n")) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const rendered = renderTraceTree(tree);
      process.stdout.write(`\n${rendered}\n`);
      if (process.env.TRACE_TREE_FILE) writeFileSync(process.env.TRACE_TREE_FILE, `${rendered}\n`);
      expect(traceShape(tree)).toEqual(expected);
    } finally {
      await client.shutdown();
      restoreEnv();
      await mesh.stop();
      await receiver.close();
    }
  }, 60_000);
});

const NOT_TRACING = { isTracing: false, shutdown: async () => {} };

/** Sets variables in process.env; the function returned puts back what was there. */
function setEnv(values: Record<string, string>): () => void {
  const before = Object.fromEntries(Object.keys(values).map((key) => [key, process.env[key]]));
  Object.assign(process.env, values);
  return () => {
    for (const [key, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}
