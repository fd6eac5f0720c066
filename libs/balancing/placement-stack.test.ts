import { describe, expect, it } from "vitest";
import { createPlacementStack, FilterReason, type PlacementRequest, type WorkerCandidate } from "./index.js";

function worker(workerId: string, overrides: Partial<WorkerCandidate> = {}): WorkerCandidate {
  return { workerId, address: `${workerId}:1`, region: "r1", zone: "z1", capabilities: [], slots: 4, inFlight: 0, condition: "alive", ...overrides };
}

function request(overrides: Partial<PlacementRequest> = {}): PlacementRequest {
  return { taskId: "t1", routingKey: "", requiredCapabilities: [], preferredRegion: "", ...overrides };
}

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe("feasibility", () => {
  const cases: { name: string; worker: WorkerCandidate; request?: PlacementRequest; reason: FilterReason }[] = [
    { name: "drops a dead worker", worker: worker("w", { condition: "dead" }), reason: FilterReason.NotAlive },
    { name: "drops a suspect worker", worker: worker("w", { condition: "suspect" }), reason: FilterReason.NotAlive },
    { name: "drops a draining worker", worker: worker("w", { condition: "draining" }), reason: FilterReason.Draining },
    { name: "drops a full worker", worker: worker("w", { inFlight: 4 }), reason: FilterReason.NoFreeSlot },
    {
      name: "drops a worker missing a capability",
      worker: worker("w", { capabilities: ["cpu"] }),
      request: request({ requiredCapabilities: ["cpu", "gpu"] }),
      reason: FilterReason.MissingCapability,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      for (const strategy of ["round_robin", "least_loaded"] as const) {
        const ranking = createPlacementStack({ defaultStrategy: strategy }).rank([c.worker], c.request ?? request());
        expect(ranking.ranked).toEqual([]);
        expect(ranking.rejected).toEqual([expect.objectContaining({ workerId: "w", reason: c.reason })]);
      }
    });
  }

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
    const firsts = Array.from({ length: 6 }, () => stack.rank(workers, request()).ranked[0]?.worker.workerId);
    expect(firsts).toEqual(["a", "b", "c", "a", "b", "c"]);
  });

  it("ranks every feasible worker so a conflict can fall through to the next", () => {
    const ranking = createPlacementStack({ defaultStrategy: "round_robin" }).rank([worker("a"), worker("b"), worker("c", { inFlight: 4 })], request());
    expect(ranking.ranked.map((r) => r.worker.workerId)).toEqual(["a", "b"]);
  });
});

describe("least loaded", () => {
  it("prefers the lowest share of busy slots, counting in-flight work", () => {
    const ranking = createPlacementStack({ defaultStrategy: "least_loaded", random: seeded(1) }).rank(
      [worker("busy", { inFlight: 3 }), worker("idle", { inFlight: 0 }), worker("half", { inFlight: 4, slots: 8 })],
      request(),
    );
    expect(ranking.ranked.map((r) => r.worker.workerId)).toEqual(["idle", "half", "busy"]);
  });

  it("spreads ties between equally loaded workers", () => {
    const stack = createPlacementStack({ defaultStrategy: "least_loaded", random: seeded(7) });
    const counts = new Map<string, number>();
    for (let i = 0; i < 1000; i += 1) {
      const first = stack.rank([worker("a"), worker("b")], request()).ranked[0]?.worker.workerId ?? "";
      counts.set(first, (counts.get(first) ?? 0) + 1);
    }
    expect(counts.get("a")).toBeGreaterThan(400);
    expect(counts.get("b")).toBeGreaterThan(400);
  });

  it("can be chosen per request over the default", () => {
    const stack = createPlacementStack({ defaultStrategy: "round_robin" });
    const ranking = stack.rank([worker("a", { inFlight: 3 }), worker("b")], request(), "least_loaded");
    expect(ranking.strategy).toBe("least_loaded");
    expect(ranking.ranked[0]?.worker.workerId).toBe("b");
  });
});
