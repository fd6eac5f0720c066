// Every path that places a task, against every constraint a task can carry.
// Each case has a worker that meets the constraint ("right") and one that
// does not but is lighter ("wrong"), so a path that drops the constraint
// picks the wrong one and the table fails. The balancer's paths run against
// a real Coordinator in process (its Place is called directly), so the
// balancer's ranking and the coordinator's check of it are both exercised.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { createHandlerContext } from "@connectrpc/connect";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import {
  createPlacementStack,
  placementRequestOf,
  type StrategyName,
} from "../../libs/balancing/index.js";
import {
  AssignRequestSchema,
  Balancer,
  RegisterSchema,
  RouteRequestSchema,
  TaskSpecSchema,
  TaskState,
  type Coordinator as CoordinatorContract,
  type PlaceRequest,
  type TaskSpec,
  WorkerSpecSchema,
} from "../../libs/contracts/index.js";
import { createMemoryTaskStore, type TaskStore } from "../../libs/ledger/index.js";
import { Code, ConnectError, type RpcClient } from "../../libs/rpc/index.js";
import { balancerService } from "../../services/balancer/balancer-service.js";
import type { ClusterView } from "../../services/balancer/cluster-view.js";
import { Coordinator, type CoordinatorSettings } from "../../services/coordinator/coordinator.js";
import type { FleetHooks } from "../../services/coordinator/admission.js";

type WorkerFields = Pick<
  MessageInitShape<typeof WorkerSpecSchema>,
  "region" | "zone" | "capabilities" | "labels"
>;
type SpecFields = Partial<
  Pick<
    TaskSpec,
    | "requiredCapabilities"
    | "requiredRegion"
    | "requiredZone"
    | "preferredRegion"
    | "taskType"
    | "routingKey"
  >
>;

const RIGHT: WorkerFields = {
  region: "eu",
  zone: "eu-1",
  capabilities: ["gpu"],
  labels: { specializations: "render" },
};
const WRONG: WorkerFields = { region: "us", zone: "us-1", capabilities: [], labels: {} };

/** A routing key whose consistent-hash order over {doomed, right, wrong} puts wrong last, so "right" is its home once doomed is gone or full. */
function keyHomedOnRight(): string {
  const stack = createPlacementStack({ defaultStrategy: "consistent_hash" });
  const all = ["doomed", "right", "wrong"].map((workerId) => ({
    workerId,
    address: "",
    region: "",
    zone: "",
    capabilities: [],
    slots: 4,
    inFlight: 0,
    condition: "alive" as const,
  }));
  for (let i = 0; i < 200; i += 1) {
    const request = placementRequestOf({
      routingKey: `key-${i}`,
      requiredCapabilities: [],
      preferredRegion: "",
      taskType: "",
      requiredRegion: "",
      requiredZone: "",
    });
    const order = stack.rank(all, request).ranked.map((c) => c.worker.workerId);
    if (
      order[2] === "wrong" &&
      stack.rank(all.slice(1), request).ranked[0]?.worker.workerId === "right"
    )
      return `key-${i}`;
  }
  throw new Error("no key homed on right in 200 tries");
}

interface ConstraintCase {
  readonly name: string;
  readonly strategy: StrategyName;
  readonly fields: SpecFields;
  readonly isHard: boolean;
}

const CONSTRAINTS: readonly ConstraintCase[] = [
  {
    name: "required capabilities",
    strategy: "least_loaded",
    fields: { requiredCapabilities: ["gpu"] },
    isHard: true,
  },
  {
    name: "required region",
    strategy: "least_loaded",
    fields: { requiredRegion: "eu" },
    isHard: true,
  },
  {
    name: "required zone",
    strategy: "least_loaded",
    fields: { requiredZone: "eu-1" },
    isHard: true,
  },
  {
    name: "preferred region",
    strategy: "region_aware",
    fields: { preferredRegion: "eu" },
    isHard: false,
  },
  { name: "task type", strategy: "affinity", fields: { taskType: "render" }, isHard: false },
  {
    name: "routing key",
    strategy: "consistent_hash",
    fields: { routingKey: keyHomedOnRight() },
    isHard: false,
  },
];

const SETTINGS: CoordinatorSettings = {
  heartbeatIntervalMs: 1000,
  heartbeatTimeoutMs: 60_000,
  reconnectGraceMs: 1000,
  recoveryGraceMs: 5000,
  maxPendingTasks: 100,
  defaultMaxAttempts: 5,
  defaultTaskTimeoutMs: 60_000,
  deadWorkerRetentionMs: 60_000,
  isFailureDetectionEnabled: true,
  strategy: "least_loaded",
  retryBackoff: { initialMs: 1000, maxMs: 10_000 },
};

function mesh(strategy: StrategyName, store: TaskStore = createMemoryTaskStore()) {
  const clock = {
    nowMs: 1_000_000,
    now() {
      return this.nowMs;
    },
  };
  const coordinator = new Coordinator(
    { ...SETTINGS, strategy },
    pino({ level: "silent" }),
    store,
    clock,
    () => 0.5,
  );
  const sessions = new Map<string, ReturnType<Coordinator["register"]>["session"]>();
  const join = (workerId: string, spec: WorkerFields, slots = 4) => {
    const { session } = coordinator.register(
      create(RegisterSchema, { worker: { workerId, slots, address: `${workerId}:1`, ...spec } }),
    );
    sessions.set(workerId, session);
  };
  const place = (
    fields: SpecFields & { taskId: string; timeout?: TaskSpec["timeout"] },
    workerId = "",
  ) => coordinator.place(create(TaskSpecSchema, fields), workerId, {});
  /** right and wrong join; right gets a filler task so that wrong is the lighter one. */
  const joinRightAndWrong = async () => {
    join("right", RIGHT);
    join("wrong", WRONG);
    await place({ taskId: "filler-right" }, "right");
  };
  const workerOf = (taskId: string) => coordinator.ledger.get(taskId)?.task.workerId;
  const balancer = () => {
    const view: ClusterView = {
      isSynced: true,
      revision: 1n,
      candidates: () => coordinator.workers.candidates(),
      worker: () => undefined,
      health: () => new Map(),
      notePlaced: () => {},
      noteConflict: () => {},
      stop: () => {},
    };
    const client = {
      place: (request: PlaceRequest) =>
        coordinator.place(request.task as TaskSpec, request.workerId, {}),
    } as unknown as RpcClient<typeof CoordinatorContract>;
    return balancerService({
      view,
      stack: createPlacementStack({ defaultStrategy: strategy, random: () => 0.5 }),
      coordinator: () => client,
      placements: { place: (request) => client.place(request), close: () => {} },
      coordinatorUri: "in-process",
      placeAttempts: 3,
      maxPayloadBytes: 1024,
      logger: pino({ level: "silent" }),
    });
  };
  return {
    coordinator,
    clock,
    join,
    place,
    joinRightAndWrong,
    workerOf,
    balancer,
    sessions,
    store,
  };
}

function handlerContext() {
  return createHandlerContext({
    service: Balancer,
    method: Balancer.method.assign,
    protocolName: "grpc",
    requestMethod: "POST",
    url: "/",
    timeoutMs: 5_000,
  });
}

/** Lets the group commit run and its deliveries go out. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

/** The task `t` running on "doomed" (which meets everything), with right and wrong joined since. */
async function placedOnDoomed(c: ConstraintCase, extra: { timeout?: TaskSpec["timeout"] } = {}) {
  const m = mesh(c.strategy);
  m.join("doomed", RIGHT, 1);
  await m.place({ taskId: "t", ...extra, ...c.fields });
  expect(m.workerOf("t")).toBe("doomed");
  await m.joinRightAndWrong();
  return m;
}

/** Each path places the task `t` with the constraint's fields and answers the worker it went to. */
const PATHS: readonly {
  readonly name: string;
  readonly run: (c: ConstraintCase) => Promise<string | undefined>;
}[] = [
  {
    name: "balancer Assign",
    run: async (c) => {
      const m = mesh(c.strategy);
      await m.joinRightAndWrong();
      const response = await m
        .balancer()
        .assign(
          create(AssignRequestSchema, { task: { taskId: "t", ...c.fields } }),
          handlerContext(),
        );
      return response.workerId;
    },
  },
  {
    name: "balancer Route",
    run: async (c) => {
      const m = mesh(c.strategy);
      await m.joinRightAndWrong();
      return (await m.balancer().route(create(RouteRequestSchema, c.fields), handlerContext()))
        .workerId;
    },
  },
  {
    name: "the coordinator's own placement",
    run: async (c) => {
      const m = mesh(c.strategy);
      await m.joinRightAndWrong();
      await m.place({ taskId: "t", ...c.fields });
      return m.workerOf("t");
    },
  },
  {
    name: "the pending queue",
    run: async (c) => {
      const m = mesh(c.strategy);
      m.join("doomed", RIGHT, 1);
      await m.place({ taskId: "filler-doomed" }, "doomed");
      const queued = await m.place({ taskId: "t", ...c.fields });
      expect(queued.task?.state).toBe(TaskState.PENDING);
      await m.joinRightAndWrong();
      m.coordinator.schedulePending();
      return m.workerOf("t");
    },
  },
  {
    name: "re-placement after its worker died",
    run: async (c) => {
      const m = await placedOnDoomed(c);
      m.coordinator.sessionEnded(m.sessions.get("doomed")!);
      m.clock.nowMs += 1_001;
      m.coordinator.checkLiveness();
      m.coordinator.schedulePending();
      return m.workerOf("t");
    },
  },
  {
    name: "re-placement after a timeout",
    run: async (c) => {
      const m = await placedOnDoomed(c, { timeout: durationFromMs(1_000) });
      m.coordinator.setCordoned("doomed", true);
      m.clock.nowMs += 3_001; // past the timeout and its slack
      m.coordinator.checkLiveness();
      expect(m.coordinator.ledger.get("t")?.task.state).toBe(TaskState.PENDING);
      m.clock.nowMs += 10_000; // past the retry backoff
      m.coordinator.schedulePending();
      return m.workerOf("t");
    },
  },
  {
    name: "recovery after a restart",
    run: async (c) => {
      const store = createMemoryTaskStore();
      const before = mesh(c.strategy, store);
      before.join("doomed", RIGHT, 1);
      await before.place({ taskId: "filler-doomed" }, "doomed");
      await before.place({ taskId: "t", ...c.fields });
      await before.coordinator.stop();
      const after = mesh(c.strategy, store);
      await after.coordinator.recover();
      await after.joinRightAndWrong();
      after.coordinator.schedulePending();
      await after.coordinator.stop();
      return after.workerOf("t");
    },
  },
];

describe("every placement path honours every constraint", () => {
  for (const path of PATHS) {
    for (const c of CONSTRAINTS) {
      it(`${path.name}: ${c.name}`, async () => {
        expect(await path.run(c)).toBe("right");
        await settle();
      });
    }
  }
});

describe("a hard constraint no registered worker meets", () => {
  const hard = CONSTRAINTS.filter((c) => c.isHard);
  const named: Record<string, RegExp> = {
    "required capabilities": /no registered worker offers every required capability \[gpu\]/,
    "required region": /no registered worker is in required_region "eu"/,
    "required zone": /no registered worker is in required_zone "eu-1"/,
  };

  for (const c of hard) {
    it(`is refused with UNAVAILABLE naming it (${c.name}), through the balancer and the coordinator`, async () => {
      const m = mesh(c.strategy);
      m.join("wrong", WRONG);
      for (const call of [
        async () =>
          m
            .balancer()
            .assign(
              create(AssignRequestSchema, { task: { taskId: "t", ...c.fields } }),
              handlerContext(),
            ),
        () => m.place({ taskId: "t2", ...c.fields }),
      ]) {
        const error = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(ConnectError);
        expect(Code[(error as ConnectError).code]).toBe("Unavailable");
        expect((error as ConnectError).rawMessage).toMatch(named[c.name]!);
      }
      expect(m.coordinator.ledger.countsByState().size).toBe(0);
    });

    it(`waits in the queue from zero, saying why, when the autoscaler starts workers that meet it (${c.name})`, async () => {
      const m = mesh(c.strategy);
      let wakes = 0;
      const fleet: FleetHooks = {
        template: { region: "eu", zone: "eu-1", capabilities: ["gpu"] },
        wake: () => (wakes += 1) > 0,
        onQueued: () => {},
      };
      m.coordinator.attachFleet(fleet);
      const response = await m
        .balancer()
        .assign(
          create(AssignRequestSchema, { task: { taskId: "t", ...c.fields } }),
          handlerContext(),
        );
      expect(response.state).toBe(TaskState.PENDING);
      expect(response.reason).toBe(
        "queued: no worker is registered yet; the autoscaler is starting one",
      );
      expect(wakes).toBe(1);
      // A worker that does not meet it joins first: it never gets the task.
      m.join("wrong", WRONG);
      m.coordinator.schedulePending();
      expect(m.workerOf("t")).toBe("");
      m.join("right", RIGHT);
      m.coordinator.schedulePending();
      expect(m.workerOf("t")).toBe("right");
    });

    it(`is refused while workers are registered, even with the autoscaler attached (${c.name})`, async () => {
      const m = mesh(c.strategy);
      m.join("wrong", WRONG);
      m.coordinator.attachFleet({
        template: { region: "eu", zone: "eu-1", capabilities: ["gpu"] },
        wake: () => true,
        onQueued: () => {},
      });
      await expect(m.place({ taskId: "t", ...c.fields })).rejects.toMatchObject({
        code: Code.Unavailable,
      });
    });

    it(`is refused from zero, naming it, when the autoscaler's workers would not meet it (${c.name})`, async () => {
      const m = mesh(c.strategy);
      m.coordinator.attachFleet({
        template: { region: "us", zone: "us-1", capabilities: [] },
        wake: () => true,
        onQueued: () => {},
      });
      await expect(m.place({ taskId: "t", ...c.fields })).rejects.toThrow(
        /no workers are registered \(and the workers the autoscaler starts are not: none /,
      );
    });
  }

  it("names the pair when each constraint is met alone but not together", async () => {
    const m = mesh("least_loaded");
    m.join("eu-cpu", { region: "eu", capabilities: [] });
    m.join("us-gpu", { region: "us", capabilities: ["gpu"] });
    await expect(
      m.place({ taskId: "t", requiredRegion: "eu", requiredCapabilities: ["gpu"] }),
    ).rejects.toThrow(
      /no registered worker offers every required capability \[gpu\] and is in required_region "eu"/,
    );
  });
});
