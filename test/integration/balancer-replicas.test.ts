// Many balancers, one coordinator: replicas that see the same cluster map a
// key to the same worker, and when their optimistic commits collide the
// loser tries its next candidate; nothing is overfilled or lost.
import { afterEach, describe, expect, it } from "vitest";
import { Balancer, TaskState, type AssignResponse } from "../../libs/contracts/index.js";
import { createRpcClient, type RpcClient } from "../../libs/rpc/index.js";
import { startService, stopAll, type ServiceProcess } from "../support/service-process.js";
import { exampleHandler, startMesh, type Mesh } from "../support/mesh.js";

let mesh: Mesh | undefined;
const extra: ServiceProcess[] = [];
const clients: RpcClient<typeof Balancer>[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(extra.splice(0).map((b) => b.stop()));
  await mesh?.stop();
  mesh = undefined;
  await stopAll();
});

/**
 * Waits until a balancer's view holds `workers` workers (Route names the best
 * and up to three alternatives), so replicas compared with each other, or
 * with the coordinator, see the same cluster.
 */
async function waitForView(
  replica: RpcClient<typeof Balancer>,
  workers: number,
  strategy?: string,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const seen = await replica.route({ routingKey: "warm-up", strategy }).then(
      (r) => 1 + r.alternativeWorkerIds.length,
      () => 0,
    );
    if (seen >= Math.min(workers, 4)) return;
    if (Date.now() > deadline)
      throw new Error(`balancer view holds ${seen} of ${workers} workers after 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function threeReplicas(m: Mesh, strategy: string): Promise<RpcClient<typeof Balancer>[]> {
  const env = {
    SCALEMESH_BALANCER_GRPC_PORT: "0",
    SCALEMESH_BALANCER_HTTP_PORT: "0",
    SCALEMESH_BALANCER_COORDINATOR: `static://127.0.0.1:${m.coordinator.grpcPort}`,
    SCALEMESH_BALANCER_STRATEGY: strategy,
  };
  for (let i = 0; i < 2; i += 1) extra.push(await startService("balancer", { env }));
  const replicas = [
    m.balancerClient,
    ...extra.map((b) =>
      createRpcClient(Balancer, `127.0.0.1:${b.grpcPort}`, { defaultDeadlineMs: 30_000 }),
    ),
  ];
  clients.push(...replicas.slice(1));
  for (const replica of replicas) await waitForView(replica, m.workers.length, strategy);
  return replicas;
}

describe("three balancer replicas", () => {
  for (const strategy of ["consistent_hash", "maglev"]) {
    it(`map every key to the same worker (${strategy})`, async () => {
      mesh = await startMesh({
        workers: 5,
        slots: 8,
        env: { SCALEMESH_BALANCER_STRATEGY: strategy },
      });
      const replicas = await threeReplicas(mesh, strategy);
      const homes = new Map<string, number>();
      for (let k = 0; k < 200; k += 1) {
        const routes = await Promise.all(replicas.map((r) => r.route({ routingKey: `key-${k}` })));
        expect(new Set(routes.map((r) => r.workerId)).size, `key-${k}`).toBe(1);
        const home = routes[0]?.workerId ?? "";
        homes.set(home, (homes.get(home) ?? 0) + 1);
      }
      // And the keys spread over every worker.
      expect(homes.size).toBe(5);
    }, 60_000);
  }

  it("resolve colliding commits by trying the next candidate, under load, losing nothing", async () => {
    mesh = await startMesh({
      workers: 3,
      slots: 2,
      handler: exampleHandler("sleep"),
      env: { SCALEMESH_BALANCER_STRATEGY: "consistent_hash" },
    });
    const m = mesh;
    const replicas = await threeReplicas(m, "consistent_hash");
    const payload = new TextEncoder().encode(JSON.stringify({ ms: 40 }));
    const responses: AssignResponse[] = [];
    // Three replicas, 8 callers each, every task on one hot key: its home
    // fills at once and the replicas race for the same few slots.
    await Promise.all(
      replicas.flatMap((replica, r) =>
        Array.from({ length: 8 }, async (_, c) => {
          for (let i = 0; i < 25; i += 1) {
            responses.push(
              await replica.assign({
                task: { taskId: `hot-${r}-${c}-${i}`, routingKey: "hot", payload },
              }),
            );
          }
        }),
      ),
    );
    expect(responses).toHaveLength(600);
    const conflicts = responses.filter((a) => /conflicts on/.test(a.reason));
    expect(conflicts.length).toBeGreaterThan(0);
    const finished = await Promise.all(
      responses.map((a) => m.balancerClient.awaitTask({ taskId: a.taskId }, { timeoutMs: 60_000 })),
    );
    for (const done of finished) expect(done.task?.state).toBe(TaskState.SUCCEEDED);
    const status = await m.admin.getClusterStatus({});
    expect(status.tasksByState.SUCCEEDED).toBe(600n);
  }, 120_000);
});

describe("AssignStream over gRPC", () => {
  it("answers every item of a long stream, refusing bad ones one by one", async () => {
    mesh = await startMesh({
      workers: 2,
      slots: 64,
      handler: exampleHandler("noop"),
      env: { SCALEMESH_COORDINATOR_MAX_PENDING_TASKS: "100000" },
    });
    const m = mesh;
    async function* requests() {
      for (let i = 0; i < 2000; i += 1) {
        // Every 100th item is invalid (a task id with a space).
        yield {
          sequence: BigInt(i),
          request: { task: { taskId: i % 100 === 0 ? `bad ${i}` : `stream-${i}` } },
        };
      }
    }
    const seen = new Set<bigint>();
    let assigned = 0;
    let refused = 0;
    for await (const response of m.balancerClient.assignStream(requests(), { timeoutMs: 60_000 })) {
      seen.add(response.sequence);
      if (response.outcome.case === "assigned") assigned += 1;
      if (response.outcome.case === "error") {
        refused += 1;
        expect(response.outcome.value.code).toBe(3);
        expect(response.outcome.value.message).toMatch(/task\.task_id/);
      }
    }
    expect(seen.size).toBe(2000);
    expect(assigned).toBe(1980);
    expect(refused).toBe(20);
  }, 60_000);

  it("answers with the result on the call that submitted, when asked to await it", async () => {
    mesh = await startMesh({ workers: 2, slots: 8, handler: exampleHandler("noop") });
    const m = mesh;
    // Unary: one call, the final task in the answer.
    const one = await m.balancerClient.assign(
      { task: { taskId: "awaited-1", payload: new TextEncoder().encode("{}") }, awaitResult: true },
      { timeoutMs: 10_000 },
    );
    expect(one.state).toBe(TaskState.SUCCEEDED);
    expect(one.result?.spec?.taskId).toBe("awaited-1");
    expect(one.result?.state).toBe(TaskState.SUCCEEDED);
    expect(one.workerId).toBe(one.result?.workerId);
    // Without await_result nothing changes: the answer comes at placement.
    const plain = await m.balancerClient.assign({ task: { taskId: "not-awaited" } });
    expect(plain.state).toBe(TaskState.ASSIGNED);
    expect(plain.result).toBeUndefined();
    // A stream: every awaited item is answered twice, assigned then finished;
    // an item that does not ask is answered once.
    async function* requests() {
      for (let i = 0; i < 50; i += 1)
        yield {
          sequence: BigInt(i),
          request: { task: { taskId: `awaited-stream-${i}` }, awaitResult: i % 10 !== 0 },
        };
    }
    const outcomes = new Map<bigint, string[]>();
    for await (const response of m.balancerClient.assignStream(requests(), { timeoutMs: 30_000 })) {
      const seen = outcomes.get(response.sequence) ?? [];
      seen.push(response.outcome.case ?? "none");
      if (response.outcome.case === "finished") {
        expect(response.outcome.value.state).toBe(TaskState.SUCCEEDED);
        expect(response.outcome.value.spec?.taskId).toBe(`awaited-stream-${response.sequence}`);
      }
      outcomes.set(response.sequence, seen);
    }
    expect(outcomes.size).toBe(50);
    for (const [sequence, seen] of outcomes)
      expect(seen).toEqual(sequence % 10n === 0n ? ["assigned"] : ["assigned", "finished"]);
  }, 60_000);

  it("says why a key went where it went", async () => {
    mesh = await startMesh({
      workers: 3,
      slots: 4,
      env: { SCALEMESH_BALANCER_STRATEGY: "consistent_hash" },
    });
    await waitForView(mesh.balancerClient, 3);
    // Route answers where a task would go now, without placing it; on an idle
    // mesh that is the key's home, and Assign then places it there.
    const route = await mesh.balancerClient.route({ routingKey: "user-7" });
    expect(route.reason).toBe("chosen by consistent_hash: home");
    const response = await mesh.balancerClient.assign({
      task: { routingKey: "user-7", payload: new TextEncoder().encode("x") },
    });
    expect(response.reason).toBe("chosen by consistent_hash: home");
    expect(response.workerId).toBe(route.workerId);
  }, 60_000);
});
