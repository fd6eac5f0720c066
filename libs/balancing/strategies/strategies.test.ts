// Table tests per strategy, each strategy called directly with a context
// built here, so time, randomness and health are exactly what a case says.
import { describe, expect, it } from "vitest";
import { createSeededRandom } from "../seeded-random.js";
import { DEFAULT_STRATEGY_OPTIONS, type StrategyOptions } from "../strategy-options.js";
import type { Strategy } from "../strategy.js";
import {
  HEALTHY_DEFAULTS,
  type PlacementContext,
  type PlacementRequest,
  type RandomSource,
  type RankedCandidate,
  type WorkerCandidate,
  type WorkerHealth,
} from "../types.js";
import { createAffinity } from "./affinity.js";
import { createLeastConnections } from "./least-connections.js";
import { createLeastLoaded } from "./least-loaded.js";
import { createP2cPeakEwma } from "./p2c-peak-ewma.js";
import { createPredictive } from "./predictive.js";
import { createRandom } from "./random.js";
import { createRegionAware } from "./region-aware.js";
import { createSticky } from "./sticky.js";
import { createWeightedCapacity } from "./weighted-capacity.js";

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

function health(overrides: Partial<WorkerHealth>): WorkerHealth {
  return { ...HEALTHY_DEFAULTS, ...overrides };
}

function context(
  overrides: Partial<PlacementContext> & { feasible?: readonly WorkerCandidate[] } = {},
): PlacementContext {
  return {
    nowMs: 0,
    random: createSeededRandom(1),
    health: new Map(),
    eligible: overrides.feasible ?? [],
    ...overrides,
  };
}

/** A random source replaying the given values (then 0). */
function replay(...values: number[]): RandomSource {
  let i = 0;
  return () => values[i++] ?? 0;
}

const ids = (ranked: readonly RankedCandidate[]) => ranked.map((c) => c.worker.workerId);
const options = (overrides: Partial<StrategyOptions> = {}): StrategyOptions => ({
  ...DEFAULT_STRATEGY_OPTIONS,
  ...overrides,
});

/** Ranks, then commits the first candidate, as a successful Place would: how stateful strategies move. */
function placeFirst(
  strategy: Strategy,
  feasible: readonly WorkerCandidate[],
  req: PlacementRequest,
  ctx: PlacementContext,
): RankedCandidate[] {
  const ranked = strategy.rank(feasible, req, ctx);
  const first = ranked[0];
  if (first)
    strategy.commit?.({
      request: req,
      nowMs: ctx.nowMs,
      feasible,
      eligible: ctx.eligible.length > 0 ? ctx.eligible : feasible,
      workerId: first.worker.workerId,
    });
  return ranked;
}

/** How often each worker comes first over `runs` decisions. */
function firstCounts(
  strategy: Strategy,
  feasible: readonly WorkerCandidate[],
  ctx: PlacementContext,
  runs: number,
): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < runs; i += 1) {
    const first = strategy.rank(feasible, request(), ctx)[0]?.worker.workerId ?? "";
    counts.set(first, (counts.get(first) ?? 0) + 1);
  }
  return counts;
}

describe("random", () => {
  it("puts each worker first about equally often", () => {
    const counts = firstCounts(
      createRandom(),
      [worker("a"), worker("b"), worker("c")],
      context({ random: createSeededRandom(3) }),
      3000,
    );
    for (const id of ["a", "b", "c"]) expect(counts.get(id)).toBeGreaterThan(850);
  });
});

describe("least connections", () => {
  it("prefers the fewest tasks in flight whatever the worker's size", () => {
    const ranked = createLeastConnections().rank(
      [worker("big", { slots: 8, inFlight: 3 }), worker("small", { slots: 2, inFlight: 1 })],
      request(),
      context(),
    );
    expect(ids(ranked)).toEqual(["small", "big"]);
  });
});

describe("weighted capacity", () => {
  const feasible = [
    worker("full-weight"), // 4 free × 1 × 1 = 4
    worker("half-score"), // 4 free × 0.5 = 2
    worker("ramping", { inFlight: 2 }), // 2 free × 1 × 0.5 = 1
  ];
  const healthMap = new Map([
    ["half-score", health({ score: 0.5 })],
    ["ramping", health({ slowStartWeight: 0.5 })],
  ]);

  it("draws the first worker in proportion to free slots × health score × slow-start weight", () => {
    const counts = firstCounts(
      createWeightedCapacity(),
      feasible,
      context({ health: healthMap, random: createSeededRandom(5) }),
      7000,
    );
    expect(counts.get("full-weight")! / 7000).toBeCloseTo(4 / 7, 1);
    expect(counts.get("half-score")! / 7000).toBeCloseTo(2 / 7, 1);
    expect(counts.get("ramping")! / 7000).toBeCloseTo(1 / 7, 1);
  });

  it("ranks the rest by weight, heaviest first", () => {
    const ranked = createWeightedCapacity().rank(
      feasible,
      request(),
      context({ health: healthMap, random: replay(0.99) }),
    );
    expect(ids(ranked)).toEqual(["ramping", "full-weight", "half-score"]);
    expect(ranked.map((c) => c.score)).toEqual([1, 4, 2]);
  });

  it("draws uniformly when no worker has any weight", () => {
    const zero = new Map([
      ["a", health({ score: 0 })],
      ["b", health({ score: 0 })],
    ]);
    const counts = firstCounts(
      createWeightedCapacity(),
      [worker("a"), worker("b")],
      context({ health: zero, random: createSeededRandom(9) }),
      2000,
    );
    expect(counts.get("a")).toBeGreaterThan(850);
    expect(counts.get("b")).toBeGreaterThan(850);
  });
});

describe("p2c peak EWMA", () => {
  const p2c = () => createP2cPeakEwma(options());

  const cases: {
    name: string;
    feasible: WorkerCandidate[];
    health?: Record<string, number>;
    random?: RandomSource;
    expected: string[];
  }[] = [
    { name: "ranks nothing when no worker is feasible", feasible: [], expected: [] },
    {
      name: "takes the only worker without drawing",
      feasible: [worker("a")],
      random: replay(),
      expected: ["a"],
    },
    {
      name: "keeps the cheaper of two by latency × (in flight + 1)",
      feasible: [worker("fast-busy", { inFlight: 3 }), worker("slow-idle")],
      health: { "fast-busy": 10, "slow-idle": 50 }, // costs 40 and 50
      expected: ["fast-busy", "slow-idle"],
    },
    {
      name: "gives a tie to the first worker drawn",
      feasible: [worker("a"), worker("b")],
      health: { a: 20, b: 20 },
      random: replay(0.9, 0),
      expected: ["b", "a"],
    },
    {
      name: "assumes the default latency for a worker never measured",
      feasible: [worker("measured"), worker("new")],
      health: { measured: 40 }, // new costs the default 30
      expected: ["new", "measured"],
    },
    {
      name: "ranks the workers not drawn by the same cost, cheapest first",
      feasible: [worker("a"), worker("b"), worker("c"), worker("d")],
      health: { a: 10, b: 40, c: 20, d: 30 },
      random: replay(0.3, 0.7), // draws b, then d (index 2 of the other three → d): d wins, 30 < 40
      expected: ["d", "a", "c", "b"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const healthMap = new Map(
        Object.entries(c.health ?? {}).map(([id, latencyMs]) => [
          id,
          health({ peakEwmaLatencyMs: latencyMs }),
        ]),
      );
      expect(
        ids(
          p2c().rank(
            c.feasible,
            request(),
            context({ health: healthMap, random: c.random ?? createSeededRandom(1) }),
          ),
        ),
      ).toEqual(c.expected);
    });
  }

  it("never puts the most expensive of several workers first", () => {
    const feasible = [worker("a"), worker("b"), worker("worst")];
    const healthMap = new Map([
      ["a", health({ peakEwmaLatencyMs: 10 })],
      ["b", health({ peakEwmaLatencyMs: 12 })],
      ["worst", health({ peakEwmaLatencyMs: 90 })],
    ]);
    const counts = firstCounts(
      p2c(),
      feasible,
      context({ health: healthMap, random: createSeededRandom(2) }),
      2000,
    );
    expect(counts.get("worst")).toBeUndefined();
    // a beats b whenever both are drawn, and each wins against worst: about 2/3 and 1/3.
    expect(counts.get("a")! / 2000).toBeCloseTo(2 / 3, 1);
  });
});

describe("affinity", () => {
  const specialist = worker("specialist", {
    labels: { specializations: "encode, render" },
    inFlight: 3,
  });
  const capable = worker("capable", { capabilities: ["render"], inFlight: 2 });
  const generalist = worker("generalist");

  const cases: { name: string; taskType: string; expected: [string, string][] }[] = [
    {
      name: "puts workers specialising in the task type first, by label or capability, then the rest",
      taskType: "render",
      expected: [
        ["capable", "affinity match"],
        ["specialist", "affinity match"],
        ["generalist", "does not specialize in render; fallback"],
      ],
    },
    {
      name: "falls back to any feasible worker, least loaded first, and says so",
      taskType: "index",
      expected: [
        ["generalist", "no worker specializes in index; any feasible worker"],
        ["capable", "no worker specializes in index; any feasible worker"],
        ["specialist", "no worker specializes in index; any feasible worker"],
      ],
    },
    {
      name: "ranks by load when the task has no type",
      taskType: "",
      expected: [
        ["generalist", "no task type given; any feasible worker"],
        ["capable", "no task type given; any feasible worker"],
        ["specialist", "no task type given; any feasible worker"],
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const ranked = createAffinity().rank(
        [specialist, capable, generalist],
        request({ taskType: c.taskType }),
        context(),
      );
      expect(ranked.map((r) => [r.worker.workerId, r.note])).toEqual(c.expected);
    });
  }
});

describe("sticky", () => {
  const sticky = (overrides: Partial<StrategyOptions> = {}) =>
    createSticky(options({ stickyTtlMs: 10_000, ...overrides }));
  const keyed = (routingKey: string) => request({ routingKey });

  it("keeps a key on its worker while it is healthy and has room, even when another is less loaded", () => {
    const strategy = sticky();
    const first = placeFirst(
      strategy,
      [worker("a"), worker("b", { inFlight: 1 })],
      keyed("k"),
      context({ nowMs: 0 }),
    );
    expect(ids(first)[0]).toBe("a");
    const later = placeFirst(
      strategy,
      [worker("a", { inFlight: 3 }), worker("b")],
      keyed("k"),
      context({ nowMs: 5_000 }),
    );
    expect(ids(later)).toEqual(["a", "b"]);
    expect(later[0]?.note).toBe("sticky: key kept on a");
  });

  const moves: {
    name: string;
    feasibleLater: WorkerCandidate[];
    healthLater?: WorkerHealth;
    nowMsLater?: number;
    why: string;
  }[] = [
    {
      name: "moves a key whose worker has no room (no longer feasible)",
      feasibleLater: [worker("b")],
      why: "a has no room or left",
    },
    {
      name: "moves a key whose worker's health score fell",
      feasibleLater: [worker("a"), worker("b")],
      healthLater: health({ score: 0.2 }),
      why: "a is unhealthy",
    },
    {
      name: "moves a key whose worker's circuit is half-open",
      feasibleLater: [worker("a"), worker("b")],
      healthLater: health({ circuit: "half_open" }),
      why: "a is unhealthy",
    },
    {
      name: "forgets a key its TTL after its last use",
      feasibleLater: [worker("a", { inFlight: 1 }), worker("b")],
      nowMsLater: 10_000,
      why: "no live binding",
    },
  ];
  for (const c of moves) {
    it(c.name, () => {
      const strategy = sticky();
      placeFirst(
        strategy,
        [worker("a"), worker("b", { inFlight: 1 })],
        keyed("k"),
        context({ nowMs: 0 }),
      );
      const healthMap = new Map(c.healthLater ? [["a", c.healthLater]] : []);
      const later = placeFirst(
        strategy,
        c.feasibleLater,
        keyed("k"),
        context({ nowMs: c.nowMsLater ?? 1_000, health: healthMap }),
      );
      expect(later[0]?.worker.workerId).toBe("b");
      expect(later[0]?.note).toBe(`sticky: key bound to b (${c.why})`);
    });
  }

  it("extends a binding's TTL each time the key is used", () => {
    const strategy = sticky();
    const workers = [worker("a"), worker("b", { inFlight: 1 })];
    placeFirst(strategy, workers, keyed("k"), context({ nowMs: 0 }));
    placeFirst(strategy, workers, keyed("k"), context({ nowMs: 8_000 }));
    const later = placeFirst(
      strategy,
      [worker("a", { inFlight: 1 }), worker("b")],
      keyed("k"),
      context({ nowMs: 16_000 }),
    );
    expect(later[0]?.note).toBe("sticky: key kept on a");
  });

  it("forgets the least recently used key beyond its size bound", () => {
    const strategy = sticky({ stickyMaxKeys: 2 });
    const aFirst = [worker("a"), worker("b", { inFlight: 1 })];
    for (const key of ["k1", "k2", "k3"]) placeFirst(strategy, aFirst, keyed(key), context());
    const bFirst = [worker("a", { inFlight: 1 }), worker("b")];
    expect(placeFirst(strategy, bFirst, keyed("k1"), context())[0]?.note).toBe(
      "sticky: key bound to b (no live binding)",
    );
    expect(placeFirst(strategy, bFirst, keyed("k3"), context())[0]?.note).toBe(
      "sticky: key kept on a",
    );
  });

  it("binds nothing while only ranking (Route), and binds the key where the task was committed", () => {
    const strategy = sticky();
    const workers = [worker("a"), worker("b", { inFlight: 1 })];
    for (let i = 0; i < 3; i += 1) strategy.rank(workers, keyed("k"), context({ nowMs: i }));
    const bLighter = [worker("a", { inFlight: 1 }), worker("b")];
    expect(strategy.rank(bLighter, keyed("k"), context({ nowMs: 10 }))[0]?.note).toBe(
      "sticky: key bound to b (no live binding)",
    );
    // a refused the task (a conflict), b took it: the key follows b, not the worker ranked first.
    strategy.commit?.({
      request: keyed("k"),
      nowMs: 20,
      feasible: workers,
      eligible: workers,
      workerId: "b",
    });
    expect(strategy.rank(workers, keyed("k"), context({ nowMs: 30 }))[0]?.note).toBe(
      "sticky: key kept on b",
    );
  });

  it("ranks by load and binds nothing for a request without a key", () => {
    const ranked = sticky().rank([worker("a", { inFlight: 2 }), worker("b")], keyed(""), context());
    expect(ids(ranked)).toEqual(["b", "a"]);
    expect(ranked[0]?.note).toBeUndefined();
  });
});

describe("region aware", () => {
  const regionAware = () =>
    createRegionAware(options({ regionFailover: { eu: ["us", "ap"] }, failbackDelayMs: 10_000 }));
  const eu = worker("eu-1", { region: "eu" });
  const us = worker("us-1", { region: "us" });
  const ap = worker("ap-1", { region: "ap" });
  const sa = worker("sa-1", { region: "sa" });
  const toEu = request({ preferredRegion: "eu" });

  it("ranks the preferred region first, then the failover order, then every other region", () => {
    const ranked = regionAware().rank([sa, ap, us, eu], toEu, context());
    expect(ids(ranked)).toEqual(["eu-1", "us-1", "ap-1", "sa-1"]);
    expect(ranked[0]?.note).toBe("preferred region eu");
  });

  it("fails over in order when the preferred region has no capacity", () => {
    const ranked = regionAware().rank([sa, ap, us], toEu, context());
    expect(ids(ranked)).toEqual(["us-1", "ap-1", "sa-1"]);
    expect(ranked[0]?.note).toBe("failover from eu to us: eu has no capacity");
  });

  it("fails back only after the preferred region has had capacity continuously for the delay", () => {
    const strategy = regionAware();
    const firstAt = (nowMs: number, feasible: WorkerCandidate[]) =>
      placeFirst(strategy, feasible, toEu, context({ nowMs }))[0];
    expect(firstAt(0, [us]).worker.workerId).toBe("us-1");
    expect(firstAt(1_000, [eu, us])).toMatchObject({
      worker: us,
      note: expect.stringContaining("failback pending"),
    });
    expect(firstAt(5_000, [us]).worker.workerId).toBe("us-1"); // capacity lost again: the delay restarts
    expect(firstAt(6_000, [eu, us]).worker.workerId).toBe("us-1");
    expect(firstAt(15_999, [eu, us]).worker.workerId).toBe("us-1");
    expect(firstAt(16_000, [eu, us])).toMatchObject({ worker: eu, note: "preferred region eu" });
  });

  it("does not fail over or fail back on rankings that were never committed", () => {
    const strategy = regionAware();
    for (let i = 0; i < 3; i += 1)
      expect(strategy.rank([us], toEu, context({ nowMs: i }))[0]?.worker.workerId).toBe("us-1");
    expect(strategy.rank([eu, us], toEu, context({ nowMs: 10 }))[0]).toMatchObject({
      worker: eu,
      note: "preferred region eu",
    });
  });

  it("ranks by load when the request prefers no region", () => {
    const ranked = regionAware().rank(
      [worker("busy", { inFlight: 3 }), worker("idle")],
      request(),
      context(),
    );
    expect(ids(ranked)).toEqual(["idle", "busy"]);
  });
});

describe("predictive", () => {
  const predictive = () =>
    createPredictive(
      options({ predictiveHorizonMs: 5_000, predictiveWindowMs: 10_000, predictiveMaxSamples: 20 }),
    );

  it("ranks by the optimizer's forecast when it has one", () => {
    const healthMap = new Map([
      ["a", health({ forecastInFlight: 3.5 })],
      ["b", health({ forecastInFlight: 0.5 })],
    ]);
    const feasible = [worker("a"), worker("b", { inFlight: 2 })];
    const ranked = predictive().rank(feasible, request(), context({ health: healthMap, feasible }));
    expect(ids(ranked)).toEqual(["b", "a"]);
    expect(ranked[0]?.note).toBe("optimizer forecast: 0.5/4 in flight in 5s");
  });

  it("prefers a worker whose own load is falling over one climbing to the same load", () => {
    const strategy = predictive();
    const history = [
      [0, 6],
      [1, 5],
      [2, 4],
      [3, 3],
    ];
    let ranked: RankedCandidate[] = [];
    history.forEach(([climbing, falling], second) => {
      const feasible = [
        worker("climbing", { slots: 10, inFlight: climbing }),
        worker("falling", { slots: 10, inFlight: falling }),
      ];
      ranked = placeFirst(
        strategy,
        feasible,
        request(),
        context({ nowMs: second * 1_000, feasible }),
      );
    });
    expect(ids(ranked)).toEqual(["falling", "climbing"]);
    expect(ranked.map((c) => c.note)).toEqual([
      "own trend: 0.0/10 in flight in 5s",
      "own trend: 8.0/10 in flight in 5s",
    ]);
  });
});

describe("a ranking limited to the best few", () => {
  // 60 workers in shuffled order, loads 0..4 of 4 slots: many ties to break.
  const fleet = Array.from({ length: 60 }, (_, i) =>
    worker(`w${String((i * 37) % 60).padStart(2, "0")}`, { inFlight: (i * 7) % 5 }),
  );
  it.each([
    ["least_loaded", createLeastLoaded],
    ["least_connections", createLeastConnections],
  ] as const)(
    "%s gives the same first workers as its full ranking, for the same random draws",
    (_name, make) => {
      for (const limit of [1, 3, 10]) {
        const full = make().rank(fleet, request(), context({ random: createSeededRandom(7) }));
        const best = make().rank(
          fleet,
          request(),
          context({ random: createSeededRandom(7), limit }),
        );
        expect(ids(best)).toEqual(ids(full).slice(0, limit));
        expect(best.map((c) => c.score)).toEqual(full.slice(0, limit).map((c) => c.score));
      }
    },
  );

  it("ranks alike whatever order the view lists the workers in", () => {
    const reversed = [...fleet].reverse();
    const a = createLeastLoaded().rank(fleet, request(), context({ limit: 5 }));
    const b = createLeastLoaded().rank(reversed, request(), context({ limit: 5 }));
    expect(ids(a)).toEqual(ids(b));
  });
});
