import { create } from "@bufbuild/protobuf";
import { createHandlerContext } from "@connectrpc/connect";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createPlacementStack, type WorkerCandidate } from "../../libs/balancing/index.js";
import {
  AssignRequestSchema,
  AssignStreamRequestSchema,
  Balancer,
  PlaceResponseSchema,
  RouteRequestSchema,
  TaskState,
  type Coordinator,
  type PlaceRequest,
} from "../../libs/contracts/index.js";
import { Code, ConnectError, type RpcClient } from "../../libs/rpc/index.js";
import { registry } from "../../libs/telemetry/index.js";
import { balancerService } from "./balancer-service.js";
import type { ClusterView } from "./cluster-view.js";

function worker(workerId: string, inFlight = 0): WorkerCandidate {
  return {
    workerId,
    address: `${workerId}:1`,
    region: "",
    zone: "",
    capabilities: [],
    slots: 4,
    inFlight,
    condition: "alive",
  };
}

function view(workers: WorkerCandidate[], isSynced = true): ClusterView & { conflicts: string[] } {
  const conflicts: string[] = [];
  return {
    conflicts,
    isSynced,
    revision: 7n,
    candidates: () => workers,
    worker: () => undefined,
    health: () => new Map(),
    notePlaced: () => {},
    noteConflict: (id) => conflicts.push(id),
    stop: () => {},
  };
}

/** A coordinator whose Place answers from a table: worker id -> error, or success. */
function coordinator(refuse: Record<string, ConnectError>) {
  const calls: PlaceRequest[] = [];
  const client = {
    place: async (request: PlaceRequest) => {
      calls.push(request);
      const error = refuse[request.workerId];
      if (error) throw error;
      return create(PlaceResponseSchema, {
        task: {
          spec: request.task,
          state: request.workerId ? TaskState.ASSIGNED : TaskState.PENDING,
          attempt: 1,
          workerId: request.workerId,
        },
        workerAddress: request.workerId ? `${request.workerId}:1` : "",
      });
    },
  } as unknown as RpcClient<typeof Coordinator>;
  return { client, calls };
}

function context() {
  const method = Balancer.method.assign;
  return createHandlerContext({
    service: Balancer,
    method,
    protocolName: "grpc",
    requestMethod: "POST",
    url: "/",
    timeoutMs: 5_000,
  });
}

function service(options: {
  workers: WorkerCandidate[];
  refuse?: Record<string, ConnectError>;
  isSynced?: boolean;
}) {
  const clusterView = view(options.workers, options.isSynced);
  const coord = coordinator(options.refuse ?? {});
  const impl = balancerService({
    view: clusterView,
    stack: createPlacementStack({ defaultStrategy: "least_loaded", random: () => 0.5 }),
    coordinator: () => coord.client,
    // Placements straight to the fake's Place (the stream is tested on its own).
    placements: {
      place: (request, bounds) => coord.client.place(request, bounds),
      close: () => {},
    },
    coordinatorUri: "static://127.0.0.1:7070",
    placeAttempts: 3,
    maxPayloadBytes: 1024,
    logger: pino({ level: "silent" }),
  });
  const assign = (init: Parameters<typeof create<typeof AssignRequestSchema>>[1]) =>
    impl.assign(create(AssignRequestSchema, init), context());
  return { impl, assign, calls: coord.calls, conflicts: clusterView.conflicts };
}

describe("Assign", () => {
  it("commits on the best candidate of the view", async () => {
    const { assign, calls } = service({ workers: [worker("busy", 3), worker("idle", 0)] });
    const response = await assign({ task: { taskId: "t1" } });
    expect(response.workerId).toBe("idle");
    expect(response.state).toBe(TaskState.ASSIGNED);
    expect(calls.map((c) => c.workerId)).toEqual(["idle"]);
    expect(calls[0]?.viewRevision).toBe(7n);
  });

  it("tries the next candidate when Place reports a conflict, and says so", async () => {
    const { assign, calls, conflicts } = service({
      workers: [worker("a", 0), worker("b", 1), worker("c", 2)],
      refuse: {
        a: new ConnectError(
          "worker a cannot take the task: 4/4 slots busy",
          Code.FailedPrecondition,
        ),
      },
    });
    const response = await assign({ task: { taskId: "t1" } });
    expect(response.workerId).toBe("b");
    expect(response.reason).toMatch(/after conflicts on a/);
    expect(calls.map((c) => c.workerId)).toEqual(["a", "b"]);
    expect(conflicts).toEqual(["a"]);
  });

  it("hands the task to the coordinator to place or queue when every candidate conflicts", async () => {
    const conflict = new ConnectError("gone", Code.NotFound);
    const { assign, calls } = service({
      workers: [worker("a"), worker("b")],
      refuse: { a: conflict, b: conflict },
    });
    const response = await assign({ task: { taskId: "t1" } });
    expect(calls.map((c) => c.workerId)).toEqual(["a", "b", ""]);
    expect(response.state).toBe(TaskState.PENDING);
    expect(response.reason).toMatch(/queued: conflicts on a, b/);
  });

  it("passes other refusals through unchanged", async () => {
    const { assign, calls } = service({
      workers: [worker("a"), worker("b")],
      refuse: { a: new ConnectError("queue full", Code.ResourceExhausted) },
    });
    await expect(assign({ task: { taskId: "t1" } })).rejects.toMatchObject({
      code: Code.ResourceExhausted,
    });
    expect(calls).toHaveLength(1);
  });

  it("generates a task id when the client gives none", async () => {
    const { assign } = service({ workers: [worker("a")] });
    const response = await assign({ task: {} });
    expect(response.taskId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("is UNAVAILABLE naming the coordinator before its first cluster view", async () => {
    const { assign } = service({ workers: [], isSynced: false });
    await expect(assign({ task: {} })).rejects.toMatchObject({
      code: Code.Unavailable,
      rawMessage: expect.stringContaining("static://127.0.0.1:7070"),
    });
  });
});

/** The least_loaded placement counters now, by series. */
async function placementCounts(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const name of [
    "scalemesh_balancer_placements_total",
    "scalemesh_balancer_placement_conflicts_total",
    "scalemesh_balancer_placement_retries_total",
  ]) {
    const metric = registry.getSingleMetric(name);
    for (const sample of (await metric?.get())?.values ?? []) {
      if (sample.labels.strategy !== "least_loaded") continue;
      const outcome = sample.labels.outcome;
      counts[outcome === undefined ? name : `${name}:${outcome}`] = sample.value;
    }
  }
  return counts;
}

describe("placement metrics", () => {
  it.each<{ name: string; refuse: Record<string, ConnectError>; grew: Record<string, number> }>([
    {
      name: "a placement on the first choice",
      refuse: {},
      grew: { "scalemesh_balancer_placements_total:placed": 1 },
    },
    {
      name: "a conflict, then the next candidate",
      refuse: { a: new ConnectError("full", Code.FailedPrecondition) },
      grew: {
        "scalemesh_balancer_placements_total:placed": 1,
        scalemesh_balancer_placement_conflicts_total: 1,
        scalemesh_balancer_placement_retries_total: 1,
      },
    },
    {
      name: "every candidate in conflict, then queued by the coordinator",
      refuse: {
        a: new ConnectError("gone", Code.NotFound),
        b: new ConnectError("gone", Code.NotFound),
      },
      grew: {
        "scalemesh_balancer_placements_total:queued": 1,
        scalemesh_balancer_placement_conflicts_total: 2,
        scalemesh_balancer_placement_retries_total: 2,
      },
    },
    {
      name: "a refusal",
      refuse: { a: new ConnectError("queue full", Code.ResourceExhausted) },
      grew: { "scalemesh_balancer_placements_total:refused": 1 },
    },
  ])("count $name by strategy and outcome", async ({ refuse, grew }) => {
    const { assign } = service({ workers: [worker("a", 0), worker("b", 1)], refuse });
    const before = await placementCounts();
    await Promise.resolve(assign({ task: {} })).catch(() => undefined);
    const after = await placementCounts();
    const changed = Object.fromEntries(
      Object.entries(after)
        .filter(([series, value]) => value !== (before[series] ?? 0))
        .map(([series, value]) => [series, value - (before[series] ?? 0)]),
    );
    expect(changed).toEqual(grew);
  });
});

describe("Route", () => {
  it("answers where a key would go, with alternatives, without placing anything", async () => {
    const { impl, calls } = service({
      workers: [worker("busy", 3), worker("idle", 0), worker("half", 2)],
    });
    const route = await impl.route(create(RouteRequestSchema, { routingKey: "user-1" }), context());
    expect(route).toMatchObject({
      workerId: "idle",
      workerAddress: "idle:1",
      strategy: "least_loaded",
    });
    expect(route.alternativeWorkerIds).toEqual(["half", "busy"]);
    expect(calls).toHaveLength(0);
  });

  it("is UNAVAILABLE with the reasons when no worker fits", async () => {
    const { impl } = service({ workers: [worker("full", 4)] });
    await expect(
      (async () => impl.route(create(RouteRequestSchema, {}), context()))(),
    ).rejects.toMatchObject({
      code: Code.Unavailable,
      rawMessage: expect.stringContaining("NoFreeSlot"),
    });
  });
});

describe("AssignStream", () => {
  it("answers every item with its sequence, refusing bad ones one by one while the stream goes on", async () => {
    const { impl } = service({ workers: [worker("a"), worker("b")] });
    async function* requests() {
      yield create(AssignStreamRequestSchema, {
        sequence: 1n,
        request: { task: { taskId: "s1" } },
      });
      yield create(AssignStreamRequestSchema, {
        sequence: 2n,
        request: { task: { taskId: "bad id" } },
      });
      yield create(AssignStreamRequestSchema, {
        sequence: 3n,
        request: { task: { taskId: "s3" }, strategy: "nope" },
      });
      yield create(AssignStreamRequestSchema, {
        sequence: 4n,
        request: { task: { taskId: "s4" } },
      });
    }
    const out = [];
    for await (const response of impl.assignStream(requests(), context())) out.push(response);
    const bySequence = new Map(out.map((r) => [r.sequence, r.outcome]));
    expect([...bySequence.keys()].sort()).toEqual([1n, 2n, 3n, 4n]);
    expect(bySequence.get(1n)).toMatchObject({
      case: "assigned",
      value: { taskId: "s1", state: TaskState.ASSIGNED },
    });
    expect(bySequence.get(2n)).toMatchObject({
      case: "error",
      value: { code: Code.InvalidArgument, message: expect.stringContaining("task.task_id") },
    });
    expect(bySequence.get(3n)).toMatchObject({
      case: "error",
      value: { code: Code.InvalidArgument, message: expect.stringContaining("strategy") },
    });
    expect(bySequence.get(4n)).toMatchObject({ case: "assigned", value: { taskId: "s4" } });
  });

  it("works on at most its window of items at once", async () => {
    let active = 0;
    let peak = 0;
    const clusterView = view([worker("a")]);
    const slowCoordinator = {
      place: async (request: PlaceRequest) => {
        active += 1;
        peak = Math.max(peak, active);
        await new Promise((resolve) => setTimeout(resolve, 5));
        active -= 1;
        return create(PlaceResponseSchema, {
          task: {
            spec: request.task,
            state: TaskState.ASSIGNED,
            attempt: 1,
            workerId: request.workerId,
          },
        });
      },
    } as unknown as RpcClient<typeof Coordinator>;
    const impl = balancerService({
      view: clusterView,
      stack: createPlacementStack({ defaultStrategy: "least_loaded", random: () => 0.5 }),
      coordinator: () => slowCoordinator,
      placements: {
        place: (request, bounds) => slowCoordinator.place(request, bounds),
        close: () => {},
      },
      coordinatorUri: "static://x:1",
      placeAttempts: 1,
      maxPayloadBytes: 1024,
      logger: pino({ level: "silent" }),
      streamWindow: 4,
    });
    async function* requests() {
      for (let i = 0; i < 40; i += 1)
        yield create(AssignStreamRequestSchema, {
          sequence: BigInt(i),
          request: { task: { taskId: `w${i}` } },
        });
    }
    let answered = 0;
    for await (const response of impl.assignStream(requests(), context()))
      if (response.outcome?.case === "assigned") answered += 1;
    expect(answered).toBe(40);
    expect(peak).toBeLessThanOrEqual(4);
    expect(peak).toBeGreaterThan(1);
  });
});
