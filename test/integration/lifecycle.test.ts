// Process lifecycle on a real mesh: the optimizer is fed by the coordinator,
// and a SIGTERM goes NOT_SERVING first, ends waiting calls with a retryable
// status, lets in-flight work finish, and exits 0.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";
import { afterEach, describe, expect, it } from "vitest";
import { Optimizer, TaskState } from "../../libs/contracts/index.js";
import { Code, createRpcClient, toConnectError } from "../../libs/rpc/index.js";
import { stopAll } from "../support/service-process.js";
import { exampleHandler, startMesh, type Mesh } from "../support/mesh.js";

let mesh: Mesh | undefined;
afterEach(async () => {
  await mesh?.stop();
  mesh = undefined;
  await stopAll();
});

type HealthClient = grpc.Client & {
  Watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }>;
};

function healthClient(port: number): HealthClient {
  const loaded = grpc.loadPackageDefinition(
    protoLoader.loadSync(healthProtoPath, { enums: String }),
  ) as unknown as {
    grpc: {
      health: {
        v1: { Health: new (address: string, credentials: grpc.ChannelCredentials) => HealthClient };
      };
    };
  };
  return new loaded.grpc.health.v1.Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

describe("optimizer feed", () => {
  it("receives the coordinator's load samples and recommends from them", async () => {
    mesh = await startMesh({
      workers: 2,
      slots: 2,
      withOptimizer: true,
      env: { SCALEMESH_SCALING_SYNC_INTERVAL_SEC: "0.2" },
    });
    const optimizer = createRpcClient(Optimizer, `127.0.0.1:${mesh.optimizer?.grpcPort}`);
    try {
      const ask = async () =>
        (await optimizer.getRecommendation({})).recommendation ?? {
          samplesUsed: 0,
          currentWorkers: 0,
          desiredWorkers: 0,
          message: "",
        };
      let recommendation = await ask();
      const deadline = Date.now() + 10_000;
      // Samples arrive every 0.2 s; the newest may predate the second worker.
      while (
        (recommendation.samplesUsed < 3 || recommendation.currentWorkers < 2) &&
        Date.now() < deadline
      ) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        recommendation = await ask();
      }
      expect(recommendation.samplesUsed).toBeGreaterThanOrEqual(3);
      expect(recommendation.currentWorkers).toBe(2);
      // An idle mesh of 2 at min_workers 2 stays where it is.
      expect(recommendation.desiredWorkers).toBe(2);
      expect(recommendation.message).toMatch(/utilization/);
    } finally {
      optimizer.close();
    }
  }, 60_000);
});

describe("SIGTERM", () => {
  it("reports NOT_SERVING, ends waiting calls with UNAVAILABLE, and exits 0", async () => {
    mesh = await startMesh({ workers: 1, slots: 1, handler: exampleHandler("sleep") });
    const m = mesh;
    const { taskId } = await m.balancerClient.assign({
      task: { payload: new TextEncoder().encode(JSON.stringify({ ms: 2000 })) },
    });
    const statuses: string[] = [];
    const health = healthClient(m.coordinator.grpcPort);
    const watch = health.Watch({ service: "scalemesh.v1.Coordinator" });
    watch.on("data", (message) => statuses.push(message.status));
    watch.on("error", () => {});
    const waiting = m.coordinatorClient.waitTask({ taskId }, { timeoutMs: 30_000 }).then(
      () => undefined,
      (error: unknown) => toConnectError(error),
    );
    while (statuses.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    const exitCode = await m.coordinator.stop("SIGTERM");
    const error = await waiting;
    health.close();
    expect(statuses[0]).toBe("SERVING");
    expect(statuses).toContain("NOT_SERVING");
    expect(error?.code).toBe(Code.Unavailable);
    expect(error?.rawMessage).toMatch(/shutting down/);
    expect(exitCode).toBe(0);
    // The worker would now wait for a coordinator to hand its result to; not this test's subject.
    await m.workers[0]?.stop("SIGKILL");
  }, 60_000);

  it("lets a draining worker finish its running task before it exits 0", async () => {
    mesh = await startMesh({ workers: 1, slots: 1, handler: exampleHandler("sleep") });
    const m = mesh;
    const { taskId } = await m.balancerClient.assign({
      task: { payload: new TextEncoder().encode(JSON.stringify({ ms: 800 })) },
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const worker = m.workers[0];
    const exitCode = await worker?.stop("SIGTERM");
    expect(exitCode).toBe(0);
    const task = (await m.admin.getTask({ taskId })).task;
    expect(task?.state).toBe(TaskState.SUCCEEDED);
    expect(task?.attempt).toBe(1);
  }, 60_000);
});
