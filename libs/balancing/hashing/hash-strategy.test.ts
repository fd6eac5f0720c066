// The hashing strategies as the placement stack calls them: properties over
// random fleets and keys, then the behaviours the issue names.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadBound } from "./bounded-load.js";
import type { PlacementContext, PlacementRequest, Strategy, WorkerCandidate } from "./contract.js";
import { createConsistentHashStrategy, createMaglevStrategy } from "./hash-strategy.js";

function worker(workerId: string, inFlight = 0, slots = 1_000): WorkerCandidate {
  return {
    workerId,
    address: `${workerId}:1`,
    region: "r1",
    zone: "z1",
    capabilities: [],
    slots,
    inFlight,
    condition: "alive",
  };
}

function request(routingKey: string, taskId = "t1"): PlacementRequest {
  return {
    taskId,
    routingKey,
    requiredCapabilities: [],
    preferredRegion: "",
    taskType: "",
    requiredRegion: "",
    requiredZone: "",
  };
}

function context(eligible: readonly WorkerCandidate[]): PlacementContext {
  return { nowMs: 0, random: () => 0.5, health: new Map(), eligible };
}

/** Ranks with every worker both eligible and feasible (no worker full). */
function rankAll(strategy: Strategy, workers: readonly WorkerCandidate[], key: string): string[] {
  return strategy.rank(workers, request(key), context(workers)).map((r) => r.worker.workerId);
}

const STRATEGIES: {
  name: string;
  make: (options?: { c?: number; overflowCandidates?: number }) => Strategy;
}[] = [
  { name: "consistent_hash", make: (options) => createConsistentHashStrategy(options) },
  // A small prime table keeps the property runs fast; the default is 65,537.
  { name: "maglev", make: (options) => createMaglevStrategy({ ...options, tableSize: 1_009 }) },
];

const fleetArb = fc
  .uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 12 })
  .chain((ids) =>
    fc.tuple(
      ...ids.map((id) => fc.integer({ min: 0, max: 8 }).map((inFlight) => worker(id, inFlight))),
    ),
  );

const shuffledFleetArb = fleetArb.chain((workers) =>
  fc.tuple(fc.constant(workers), fc.shuffledSubarray(workers, { minLength: workers.length })),
);

for (const { name, make } of STRATEGIES) {
  describe(`${name} properties`, () => {
    it("is named for the placement stack's table", () => {
      expect(make().name).toBe(name);
    });

    it("same view and key give the same ranking, whatever the order of the workers in the list", () => {
      const strategy = make({ overflowCandidates: 3 });
      fc.assert(
        fc.property(fc.string({ maxLength: 12 }), shuffledFleetArb, (key, [workers, shuffled]) => {
          const ranked = rankAll(strategy, workers, key);
          expect([...ranked].sort()).toEqual(workers.map((w) => w.workerId).sort());
          expect(rankAll(strategy, shuffled, key)).toEqual(ranked);
        }),
        { numRuns: 200 },
      );
    });

    it("placing tasks one by one, no worker ever goes above ⌈c · average⌉", () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 12 }),
          fc.double({ min: 1, max: 2, noNaN: true }),
          fc.integer({ min: 1, max: 12 }),
          // Few keys, so some are hot; a true entry also finishes a random task first.
          fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.boolean(), fc.nat()), {
            minLength: 1,
            maxLength: 150,
          }),
          (n, c, k, steps) => {
            const strategy = make({ c, overflowCandidates: k });
            const loads = new Array<number>(n).fill(0);
            let isPlaceOnly = true;
            steps.forEach(([key, finishesOne, pick], step) => {
              const busy = loads.flatMap((load, i) => (load > 0 ? [i] : []));
              if (finishesOne && busy.length > 0) {
                loads[busy[pick % busy.length]!]! -= 1;
                isPlaceOnly = false;
              }
              const workers = loads.map((load, i) => worker(`w${i}`, load));
              const bound = loadBound(c, workers);
              const chosen = strategy.rank(
                workers,
                request(`key-${key}`, `t${step}`),
                context(workers),
              )[0]!;
              const index = Number(chosen.worker.workerId.slice(1));
              loads[index]! += 1;
              // The worker that took the task is within the bound counting that task...
              expect(loads[index]).toBeLessThanOrEqual(bound);
              const total = loads.reduce((sum, load) => sum + load, 0);
              expect(loads[index]).toBeLessThanOrEqual(Math.ceil((c * total) / n));
              // ...and with no completions the bound only grows, so every worker is.
              if (isPlaceOnly)
                expect(Math.max(...loads)).toBeLessThanOrEqual(Math.ceil((c * total) / n));
            });
          },
        ),
        { numRuns: 150 },
      );
    });

    it("ranks only feasible workers, each once; the home comes first exactly when it is feasible and under the bound", () => {
      fc.assert(
        fc.property(fleetArb, fc.string({ maxLength: 8 }), fc.nat(), (eligible, key, fullPick) => {
          // One eligible worker is full: not feasible, yet still the key's home if it was.
          const full = eligible[fullPick % eligible.length]!;
          const feasible = eligible.filter((w) => w !== full);
          const ranked = make().rank(feasible, request(key), context(eligible));
          expect(ranked.map((r) => r.worker.workerId).sort()).toEqual(
            feasible.map((w) => w.workerId).sort(),
          );
          const idle = eligible.map((w) => worker(w.workerId, 0));
          const homeId = make().rank(idle, request(key), context(idle))[0]!.worker.workerId;
          const homeLoad = eligible.find((w) => w.workerId === homeId)!.inFlight;
          const shouldBeHome = homeId !== full.workerId && homeLoad < loadBound(1.25, eligible);
          expect(ranked[0]?.note?.startsWith("home") ?? false).toBe(shouldBeHome);
          if (shouldBeHome) expect(ranked[0]?.worker.workerId).toBe(homeId);
        }),
        { numRuns: 200 },
      );
    });
  });
}

describe("consistent_hash: fleet changes", () => {
  it("removing a worker moves only the keys that worker was home for", () => {
    const strategy = createConsistentHashStrategy();
    fc.assert(
      fc.property(
        fleetArb.map((ws) => ws.map((w) => worker(w.workerId, 0))),
        fc.nat(),
        fc.array(fc.string({ maxLength: 10 }), { minLength: 1, maxLength: 30 }),
        (workers, pick, keys) => {
          const removed = workers[pick % workers.length]!.workerId;
          const rest = workers.filter((w) => w.workerId !== removed);
          for (const key of keys) {
            const before = rankAll(strategy, workers, key)[0];
            const after = rankAll(strategy, rest, key)[0];
            if (before !== removed) expect(after).toBe(before);
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("hashing behaviours", () => {
  const fleet = Array.from({ length: 6 }, (_, i) => worker(`worker-${i + 1}`));

  for (const { name, make } of STRATEGIES) {
    it(`${name}: a key's home does not move when another worker fills up`, () => {
      const strategy = make();
      const key = "tenant-7";
      const home = rankAll(strategy, fleet, key)[0]!;
      const other = fleet.find((w) => w.workerId !== home)!;
      // The other worker is full: eligible, not feasible.
      const eligible = fleet.map((w) => (w === other ? worker(w.workerId, 3, 3) : w));
      const ranked = strategy.rank(
        eligible.filter((w) => w.workerId !== other.workerId),
        request(key),
        context(eligible),
      );
      expect(ranked[0]).toMatchObject({ worker: { workerId: home }, note: "home" });
    });

    it(`${name}: a full home sends the task elsewhere and says so`, () => {
      const strategy = make();
      const key = "tenant-7";
      const home = rankAll(strategy, fleet, key)[0]!;
      const eligible = fleet.map((w) => (w.workerId === home ? worker(home, 2, 2) : w));
      const ranked = strategy.rank(
        eligible.filter((w) => w.workerId !== home),
        request(key),
        context(eligible),
      );
      expect(ranked[0]?.note).toBe(`overflow from ${home} (no free slot)`);
    });

    it(`${name}: a task with no routing key is placed by its task id, and the note says so`, () => {
      const strategy = make();
      const byTaskId = strategy.rank(fleet, request("", "task-42"), context(fleet));
      expect(byTaskId[0]?.worker.workerId).toBe(rankAll(strategy, fleet, "task-42")[0]);
      expect(byTaskId[0]?.note).toBe("home; no routing key, hashed the task id");
    });

    it(`${name}: ranks nothing when no worker is feasible`, () => {
      expect(make().rank([], request("k"), context(fleet))).toEqual([]);
    });
  }

  it("keeps a hot key at home up to the bound, then spreads it to the least loaded", () => {
    const strategy = createConsistentHashStrategy();
    const loads = new Map(fleet.map((w) => [w.workerId, 0]));
    const notes: string[] = [];
    for (let i = 0; i < 24; i += 1) {
      const workers = fleet.map((w) => worker(w.workerId, loads.get(w.workerId)!));
      const first = strategy.rank(workers, request("hot", `t${i}`), context(workers))[0]!;
      loads.set(first.worker.workerId, loads.get(first.worker.workerId)! + 1);
      notes.push(first.note ?? "");
    }
    // 24 tasks of one key on 6 workers: the home holds ⌈1.25 · (total + 1) / 6⌉ as it grows, the rest spread evenly.
    expect(Math.max(...loads.values())).toBe(5);
    expect(Math.min(...loads.values())).toBeGreaterThanOrEqual(3);
    expect(notes.filter((note) => note === "home").length).toBe(5);
  });

  it("refuses a Maglev table size that is not prime, naming the option", () => {
    expect(() => createMaglevStrategy({ tableSize: 1_000 })).toThrow(/^tableSize must be a prime/);
  });
});
