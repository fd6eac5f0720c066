import { describe, expect, it } from "vitest";
import {
  createPlacementStack,
  FilterReason,
  STRATEGY_NAMES,
  type PlacementRequest,
  type PlacementStack,
  type WorkerCandidate,
  type WorkerHealth,
} from "./index.js";

function worker(workerId: string, overrides: Partial<WorkerCandidate> = {}): WorkerCandidate {
  return {
    workerId,
    address: `${workerId}:1`,
    region: "r1",
    zone: "z1",
    capabilities: [],
    slots: 4,
    inFlight: 0,
    condition: "alive",
    ...overrides,
  };
}

function request(overrides: Partial<PlacementRequest> = {}): PlacementRequest {
  return {
    taskId: "t1",
    routingKey: "",
    requiredCapabilities: [],
    preferredRegion: "",
    taskType: "",
    requiredRegion: "",
    requiredZone: "",
    ...overrides,
  };
}

/** Ranks and commits the first candidate, as a successful Place would; returns its id. */
function place(
  stack: PlacementStack,
  workers: readonly WorkerCandidate[],
  req: PlacementRequest,
): string | undefined {
  const ranking = stack.rank(workers, req);
  const first = ranking.ranked[0]?.worker.workerId;
  if (first !== undefined) stack.commit(ranking, first);
  return first;
}

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe("feasibility", () => {
  const halfOpen: WorkerHealth = {
    score: 1,
    circuit: "half_open",
    peakEwmaLatencyMs: 0,
    slowStartWeight: 1,
  };
  const cases: {
    name: string;
    worker: WorkerCandidate;
    request?: PlacementRequest;
    health?: WorkerHealth;
    reason: FilterReason;
  }[] = [
    {
      name: "drops a dead worker",
      worker: worker("w", { condition: "dead" }),
      reason: FilterReason.NotAlive,
    },
    {
      name: "drops a suspect worker",
      worker: worker("w", { condition: "suspect" }),
      reason: FilterReason.NotAlive,
    },
    {
      name: "drops a draining worker",
      worker: worker("w", { condition: "draining" }),
      reason: FilterReason.Draining,
    },
    {
      name: "drops a cordoned worker",
      worker: worker("w", { condition: "cordoned" }),
      reason: FilterReason.Cordoned,
    },
    {
      name: "drops a worker outside the required region",
      worker: worker("w", { region: "r2" }),
      request: request({ requiredRegion: "r1" }),
      reason: FilterReason.WrongRegion,
    },
    {
      name: "drops a worker outside the required zone",
      worker: worker("w", { zone: "z2" }),
      request: request({ requiredZone: "z1" }),
      reason: FilterReason.WrongZone,
    },
    {
      name: "drops a worker whose circuit is open",
      worker: worker("w"),
      health: { ...halfOpen, circuit: "open" },
      reason: FilterReason.CircuitOpen,
    },
    {
      name: "drops a half-open worker while its one probe is in flight",
      worker: worker("w", { inFlight: 1 }),
      health: halfOpen,
      reason: FilterReason.ProbeInFlight,
    },
    {
      name: "drops a full worker",
      worker: worker("w", { inFlight: 4 }),
      reason: FilterReason.NoFreeSlot,
    },
    {
      name: "drops a worker missing a capability",
      worker: worker("w", { capabilities: ["cpu"] }),
      request: request({ requiredCapabilities: ["cpu", "gpu"] }),
      reason: FilterReason.MissingCapability,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      for (const strategy of STRATEGY_NAMES) {
        const health = new Map(c.health ? [["w", c.health]] : []);
        const ranking = createPlacementStack({ defaultStrategy: strategy }).rank(
          [c.worker],
          c.request ?? request(),
          undefined,
          { health },
        );
        expect(ranking.ranked).toEqual([]);
        expect(ranking.rejected).toEqual([
          expect.objectContaining({ workerId: "w", reason: c.reason }),
        ]);
      }
    });
  }

  it("lets a half-open worker with nothing in flight take the probe", () => {
    const ranking = createPlacementStack({ defaultStrategy: "round_robin" }).rank(
      [worker("w")],
      request(),
      undefined,
      { health: new Map([["w", halfOpen]]) },
    );
    expect(ranking.ranked.map((r) => r.worker.workerId)).toEqual(["w"]);
  });

  it("keeps workers in the required region and zone", () => {
    const ranking = createPlacementStack({ defaultStrategy: "least_loaded" }).rank(
      [
        worker("a", { region: "r1", zone: "z1" }),
        worker("b", { region: "r1", zone: "z2" }),
        worker("c", { region: "r2", zone: "z1" }),
      ],
      request({ requiredRegion: "r1", requiredZone: "z1" }),
    );
    expect(ranking.ranked.map((r) => r.worker.workerId)).toEqual(["a"]);
  });

  it("keeps a worker offering every required capability", () => {
    const ranking = createPlacementStack({ defaultStrategy: "least_loaded" }).rank(
      [worker("a", { capabilities: ["gpu", "cpu"] }), worker("b", { capabilities: ["cpu"] })],
      request({ requiredCapabilities: ["gpu"] }),
    );
    expect(ranking.ranked.map((r) => r.worker.workerId)).toEqual(["a"]);
  });
});

describe("round robin", () => {
  it("cycles through feasible workers in id order", () => {
    const stack = createPlacementStack({ defaultStrategy: "round_robin" });
    const workers = [worker("c"), worker("a"), worker("b")];
    const firsts = Array.from({ length: 6 }, () => place(stack, workers, request()));
    expect(firsts).toEqual(["a", "b", "c", "a", "b", "c"]);
  });

  it("moves on only when a placement is committed, never when asked", () => {
    const stack = createPlacementStack({ defaultStrategy: "round_robin" });
    const workers = [worker("c"), worker("a"), worker("b")];
    const asked = Array.from(
      { length: 3 },
      () => stack.rank(workers, request()).ranked[0]?.worker.workerId,
    );
    expect(asked).toEqual(["a", "a", "a"]);
    expect(place(stack, workers, request())).toBe("a");
    expect(stack.rank(workers, request()).ranked[0]?.worker.workerId).toBe("b");
  });

  it("ranks every feasible worker so a conflict can fall through to the next", () => {
    const ranking = createPlacementStack({ defaultStrategy: "round_robin" }).rank(
      [worker("a"), worker("b"), worker("c", { inFlight: 4 })],
      request(),
    );
    expect(ranking.ranked.map((r) => r.worker.workerId)).toEqual(["a", "b"]);
  });
});

describe("least loaded", () => {
  it("prefers the lowest share of busy slots, counting in-flight work", () => {
    const ranking = createPlacementStack({
      defaultStrategy: "least_loaded",
      random: seeded(1),
    }).rank(
      [
        worker("busy", { inFlight: 3 }),
        worker("idle", { inFlight: 0 }),
        worker("half", { inFlight: 4, slots: 8 }),
      ],
      request(),
    );
    expect(ranking.ranked.map((r) => r.worker.workerId)).toEqual(["idle", "half", "busy"]);
  });

  it("spreads ties between equally loaded workers", () => {
    const stack = createPlacementStack({ defaultStrategy: "least_loaded", random: seeded(7) });
    const counts = new Map<string, number>();
    for (let i = 0; i < 1000; i += 1) {
      const first =
        stack.rank([worker("a"), worker("b")], request()).ranked[0]?.worker.workerId ?? "";
      counts.set(first, (counts.get(first) ?? 0) + 1);
    }
    expect(counts.get("a")).toBeGreaterThan(400);
    expect(counts.get("b")).toBeGreaterThan(400);
  });

  it("can be chosen per request over the default", () => {
    const stack = createPlacementStack({ defaultStrategy: "round_robin" });
    const ranking = stack.rank(
      [worker("a", { inFlight: 3 }), worker("b")],
      request(),
      "least_loaded",
    );
    expect(ranking.strategy).toBe("least_loaded");
    expect(ranking.ranked[0]?.worker.workerId).toBe("b");
  });
});

describe("placement stack", () => {
  it("gives the first candidate's note as the ranking's reason", () => {
    const ranking = createPlacementStack({ defaultStrategy: "affinity" }).rank(
      [worker("a")],
      request({ taskType: "render" }),
    );
    expect(ranking.reason).toBe("no worker specializes in render; any feasible worker");
  });

  it("takes the time from the stack's clock when a call brings none", () => {
    let nowMs = 0;
    const stack = createPlacementStack({
      defaultStrategy: "sticky",
      now: () => nowMs,
      strategies: { stickyTtlMs: 1_000 },
    });
    place(stack, [worker("a"), worker("b")], request({ routingKey: "k" }));
    expect(stack.rank([worker("a"), worker("b")], request({ routingKey: "k" })).reason).toMatch(
      /key kept/,
    );
    nowMs = 2_000;
    expect(stack.rank([worker("a"), worker("b")], request({ routingKey: "k" })).reason).toContain(
      "no live binding",
    );
  });
});

describe("a limited ranking", () => {
  const fleet = ["a", "b", "c", "d", "e", "f"].map((id, i) => worker(id, { inFlight: i % 3 }));
  it.each(STRATEGY_NAMES)(
    "%s: at most `limit` workers, the same that lead its full ranking",
    (strategy) => {
      const full = createPlacementStack({ defaultStrategy: strategy, random: seeded(3) }).rank(
        fleet,
        request({ routingKey: "k" }),
        strategy,
        { nowMs: 1_000 },
      );
      const limited = createPlacementStack({ defaultStrategy: strategy, random: seeded(3) }).rank(
        fleet,
        request({ routingKey: "k" }),
        strategy,
        { nowMs: 1_000, limit: 2 },
      );
      const ids = (r: typeof full) => r.ranked.map((c) => c.worker.workerId);
      expect(ids(limited)).toEqual(ids(full).slice(0, 2));
      expect(limited.rejected).toEqual(full.rejected);
    },
  );
});
