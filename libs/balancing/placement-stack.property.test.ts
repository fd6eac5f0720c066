// Invariants every strategy keeps, over random views, health and requests:
// nothing infeasible is ranked, every feasible worker is ranked exactly once,
// the same inputs with the same seed give the same ranking, and ranking is
// pure: only a commit moves a strategy's state.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createPlacementStack,
  createSeededRandom,
  STRATEGY_NAMES,
  type PlacementRequest,
  type PlacementStack,
  type Ranking,
  type StrategyName,
  type WorkerCandidate,
  type WorkerHealth,
} from "./index.js";

const REGIONS = ["r1", "r2", "r3"];
const CAPABILITIES = ["cpu", "gpu", "ssd"];

const workerArb: fc.Arbitrary<Omit<WorkerCandidate, "workerId" | "address">> = fc.record({
  region: fc.constantFrom(...REGIONS),
  zone: fc.constantFrom("z1", "z2"),
  capabilities: fc.subarray(CAPABILITIES),
  slots: fc.integer({ min: 0, max: 4 }),
  inFlight: fc.integer({ min: 0, max: 5 }),
  condition: fc.constantFrom("alive", "alive", "alive", "suspect", "draining", "cordoned", "dead"),
  labels: fc.record({
    specializations: fc.subarray(["render", "encode", "index"]).map((s) => s.join(",")),
  }),
});

const healthArb: fc.Arbitrary<WorkerHealth> = fc.record(
  {
    score: fc.double({ min: 0, max: 1, noNaN: true }),
    circuit: fc.constantFrom("closed", "closed", "open", "half_open"),
    peakEwmaLatencyMs: fc.double({ min: 0, max: 500, noNaN: true }),
    slowStartWeight: fc.double({ min: 0.1, max: 1, noNaN: true }),
    forecastInFlight: fc.double({ min: 0, max: 6, noNaN: true }),
  },
  { requiredKeys: ["score", "circuit", "peakEwmaLatencyMs", "slowStartWeight"] },
);

const viewArb = fc
  .array(fc.tuple(workerArb, fc.option(healthArb, { nil: undefined })), { maxLength: 12 })
  .map((entries) => {
    const workers: WorkerCandidate[] = entries.map(([w], i) => ({
      ...w,
      workerId: `w${i}`,
      address: `w${i}:1`,
    }));
    const health = new Map<string, WorkerHealth>(
      entries.flatMap(([, h], i) => (h === undefined ? [] : [[`w${i}`, h] as const])),
    );
    return { workers, health };
  });

const requestArb: fc.Arbitrary<PlacementRequest> = fc.record({
  taskId: fc.constantFrom("t1", "t2"),
  routingKey: fc.constantFrom("", "k1", "k2", "k3"),
  requiredCapabilities: fc.subarray(CAPABILITIES, { maxLength: 2 }),
  preferredRegion: fc.constantFrom("", ...REGIONS),
  taskType: fc.constantFrom("", "render", "encode"),
  requiredRegion: fc.constantFrom("", "", "r1"),
  requiredZone: fc.constantFrom("", "", "z2"),
});

/** Feasibility restated from the issue, independently of filters.ts. */
function isFeasible(
  worker: WorkerCandidate,
  request: PlacementRequest,
  health: WorkerHealth | undefined,
): boolean {
  const circuit = health?.circuit ?? "closed";
  return (
    worker.condition === "alive" &&
    worker.inFlight < worker.slots &&
    request.requiredCapabilities.every((c) => worker.capabilities.includes(c)) &&
    (!request.requiredRegion || worker.region === request.requiredRegion) &&
    (!request.requiredZone || worker.zone === request.requiredZone) &&
    circuit !== "open" &&
    (circuit !== "half_open" || worker.inFlight === 0)
  );
}

// A few decisions in a row, so stateful strategies (round robin, sticky,
// failover timers, trends) are exercised after their first call too.
const scenarioArb = fc.record({
  strategy: fc.constantFrom(...STRATEGY_NAMES),
  seed: fc.integer(),
  steps: fc.array(
    fc.record({
      view: viewArb,
      request: requestArb,
      advanceMs: fc.integer({ min: 0, max: 60_000 }),
    }),
    { minLength: 1, maxLength: 5 },
  ),
});

type Step = {
  view: { workers: WorkerCandidate[]; health: Map<string, WorkerHealth> };
  request: PlacementRequest;
  advanceMs: number;
};

function newStack(strategy: StrategyName, seed: number): PlacementStack {
  return createPlacementStack({
    defaultStrategy: strategy,
    random: createSeededRandom(seed),
    strategies: {
      regionFailover: { r1: ["r2"], r2: ["r3", "r1"] },
      failbackDelayMs: 10_000,
      stickyMaxKeys: 2,
    },
  });
}

/** Ranks each step and commits its first candidate, as a successful Place would. */
function play(
  strategy: StrategyName,
  seed: number,
  steps: readonly Step[],
  stack = newStack(strategy, seed),
) {
  let nowMs = 1_000;
  return steps.map(({ view, request, advanceMs }) => {
    nowMs += advanceMs;
    const ranking = stack.rank(view.workers, request, undefined, { nowMs, health: view.health });
    const first = ranking.ranked[0];
    if (first) stack.commit(ranking, first.worker.workerId);
    return ranking;
  });
}

const summary = (ranking: Ranking) =>
  ranking.ranked.map((c) => [c.worker.workerId, c.score, c.note ?? ""]);

describe("every strategy", () => {
  it("ranks every feasible worker exactly once and nothing else", () => {
    fc.assert(
      fc.property(scenarioArb, ({ strategy, seed, steps }) => {
        const rankings = play(strategy, seed, steps);
        steps.forEach(({ view, request }, i) => {
          const ranked = rankings[i]!.ranked.map((c) => c.worker.workerId);
          const feasible = view.workers
            .filter((w) => isFeasible(w, request, view.health.get(w.workerId)))
            .map((w) => w.workerId);
          expect([...ranked].sort()).toEqual([...feasible].sort());
        });
      }),
      { numRuns: 400 },
    );
  });

  it("gives every worker not ranked a reason", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...STRATEGY_NAMES),
        viewArb,
        requestArb,
        (strategy, view, request) => {
          const ranking = createPlacementStack({ defaultStrategy: strategy }).rank(
            view.workers,
            request,
            undefined,
            { nowMs: 0, health: view.health },
          );
          const accounted = [
            ...ranking.ranked.map((c) => c.worker.workerId),
            ...ranking.rejected.map((r) => r.workerId),
          ];
          expect(accounted.sort()).toEqual(view.workers.map((w) => w.workerId).sort());
        },
      ),
      { numRuns: 200 },
    );
  });

  it("gives the same ranking for the same view, request and seed", () => {
    fc.assert(
      fc.property(scenarioArb, ({ strategy, seed, steps }) => {
        expect(play(strategy, seed, steps).map(summary)).toEqual(
          play(strategy, seed, steps).map(summary),
        );
      }),
      { numRuns: 300 },
    );
  });

  it("is pure: asking any number of times, about anything, changes no later answer", () => {
    const probeArb = fc.record({ view: viewArb, request: requestArb, seed: fc.integer() });
    fc.assert(
      fc.property(
        scenarioArb,
        probeArb,
        fc.array(probeArb, { maxLength: 6 }),
        ({ strategy, seed, steps }, probe, asides) => {
          const stack = newStack(strategy, seed);
          play(strategy, seed, steps, stack);
          const ask = (p: typeof probe) =>
            summary(
              stack.rank(p.view.workers, p.request, undefined, {
                nowMs: 500_000,
                health: p.view.health,
                random: createSeededRandom(p.seed),
              }),
            );
          const before = ask(probe);
          for (const aside of asides) ask(aside);
          expect(ask(probe)).toEqual(before);
          // A stack that never saw the asides answers the same.
          const fresh = newStack(strategy, seed);
          play(strategy, seed, steps, fresh);
          expect(
            summary(
              fresh.rank(probe.view.workers, probe.request, undefined, {
                nowMs: 500_000,
                health: probe.view.health,
                random: createSeededRandom(probe.seed),
              }),
            ),
          ).toEqual(before);
        },
      ),
      { numRuns: 300 },
    );
  });
});
