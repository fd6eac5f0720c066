import { describe, expect, it } from "vitest";
import { loadBound, rankWithBoundedLoads, resolveBoundedLoadOptions } from "./bounded-load.js";
import type { WorkerCandidate } from "./contract.js";

function worker(workerId: string, inFlight: number, slots = 100): WorkerCandidate {
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

describe("load bound", () => {
  const cases: { name: string; c: number; loads: number[]; bound: number }[] = [
    { name: "an idle fleet takes work", c: 1.25, loads: [0, 0, 0, 0], bound: 1 },
    { name: "counts the task being placed", c: 1.25, loads: [5, 5, 5, 4], bound: 7 }, // ⌈1.25 · 20 / 4⌉
    { name: "rounds up", c: 1.25, loads: [20, 20, 20, 20, 20, 20, 20, 20, 20, 19], bound: 25 }, // ⌈1.25 · 200 / 10⌉
    { name: "c = 1 is the average itself", c: 1, loads: [3, 3, 2], bound: 3 },
    { name: "c = 2", c: 2, loads: [0, 1, 2], bound: 3 }, // ⌈2 · 4 / 3⌉
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(
        loadBound(
          c.c,
          c.loads.map((inFlight) => ({ inFlight })),
        ),
      ).toBe(c.bound);
    });
  }

  const refusals: {
    name: string;
    options: { c?: number; overflowCandidates?: number };
    message: RegExp;
  }[] = [
    { name: "c below 1", options: { c: 0.9 }, message: /^c must be/ },
    { name: "c not a number", options: { c: Number.NaN }, message: /^c must be/ },
    { name: "K of 0", options: { overflowCandidates: 0 }, message: /^overflowCandidates must be/ },
    {
      name: "K not whole",
      options: { overflowCandidates: 2.5 },
      message: /^overflowCandidates must be/,
    },
  ];
  for (const c of refusals) {
    it(`refuses ${c.name}, naming the option`, () => {
      expect(() => resolveBoundedLoadOptions(c.options)).toThrow(c.message);
    });
  }

  it("defaults to c = 1.25 and every other worker as overflow candidates", () => {
    expect(resolveBoundedLoadOptions()).toEqual({
      c: 1.25,
      overflowCandidates: Number.POSITIVE_INFINITY,
    });
  });
});

describe("bounded-load ranking", () => {
  // Key order h, a, b, c, d, e; bound over these six workers' loads.
  const keyOrder = ["h", "a", "b", "c", "d", "e"];
  const cases: {
    name: string;
    loads: Record<string, number>;
    k: number;
    /** Workers that are eligible but not feasible (full). */
    full?: string[];
    ranked: string[];
    firstNote: string;
  }[] = [
    {
      name: "a home above the bound overflows even in a nearly idle fleet, ties to key order",
      loads: { h: 4, a: 0, b: 0, c: 0, d: 0, e: 0 }, // bound ⌈1.25 · 5 / 6⌉ = 2
      k: 3,
      ranked: ["a", "b", "c", "d", "e", "h"],
      firstNote: "overflow from h (at bound 2)",
    },
    {
      name: "the home under the bound comes first, the rest in key order",
      loads: { h: 3, a: 5, b: 1, c: 3, d: 2, e: 4 }, // bound ⌈1.25 · 19 / 6⌉ = 4
      k: 3,
      ranked: ["h", "b", "c", "d", "a", "e"],
      firstNote: "home",
    },
    {
      name: "at the bound, overflow goes to the least loaded of the next K under it, not the next one",
      loads: { h: 6, a: 3, b: 1, c: 2, d: 0, e: 3 }, // bound ⌈1.25 · 16 / 6⌉ = 4
      k: 3,
      ranked: ["b", "a", "c", "d", "e", "h"],
      firstNote: "overflow from h (at bound 4)",
    },
    {
      name: "K = 1 is the paper's rule: the next worker under the bound",
      loads: { h: 6, a: 3, b: 1, c: 2, d: 0, e: 3 },
      k: 1,
      ranked: ["a", "b", "c", "d", "e", "h"],
      firstNote: "overflow from h (at bound 4)",
    },
    {
      name: "the next K skip workers at the bound",
      loads: { h: 6, a: 4, b: 5, c: 2, d: 3, e: 0 }, // bound ⌈1.25 · 21 / 6⌉ = 5; a is under, b is at
      k: 2,
      ranked: ["c", "a", "d", "e", "h", "b"],
      firstNote: "overflow from h (at bound 5)",
    },
    {
      name: "ties among the next K go to the earlier in key order",
      loads: { h: 6, a: 2, b: 1, c: 1, d: 0, e: 2 }, // bound ⌈1.25 · 13 / 6⌉ = 3
      k: 3,
      ranked: ["b", "a", "c", "d", "e", "h"],
      firstNote: "overflow from h (at bound 3)",
    },
    {
      name: "K = all picks the least loaded under the bound anywhere",
      loads: { h: 6, a: 2, b: 1, c: 1, d: 0, e: 2 },
      k: Number.POSITIVE_INFINITY,
      ranked: ["d", "a", "b", "c", "e", "h"],
      firstNote: "overflow from h (at bound 3)",
    },
    {
      name: "a full home overflows too, and keeps its place in the key order for the others",
      loads: { h: 3, a: 2, b: 1, c: 3, d: 0, e: 3 }, // bound ⌈1.25 · 13 / 6⌉ = 3
      full: ["h"],
      k: 2,
      ranked: ["b", "a", "d", "c", "e"],
      firstNote: "overflow from h (no free slot)",
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const eligible = keyOrder.map((id) => worker(id, c.loads[id] ?? 0));
      const feasible = eligible.filter((w) => !(c.full ?? []).includes(w.workerId));
      const ranked = rankWithBoundedLoads({
        c: 1.25,
        overflowCandidates: c.k,
        keyOrder,
        feasible,
        eligible,
      });
      expect(ranked.map((r) => r.worker.workerId)).toEqual(c.ranked);
      expect(ranked[0]?.note).toBe(c.firstNote);
      expect(ranked.map((r) => r.score)).toEqual([...ranked.keys()].map((i) => ranked.length - i));
    });
  }

  it("ranks workers at or above the bound last, in key order, when nobody is under it", () => {
    const eligible = keyOrder.map((id) => worker(id, 4));
    const ranked = rankWithBoundedLoads({
      c: 1,
      overflowCandidates: 3,
      keyOrder,
      feasible: eligible.slice(0, 3),
      eligible: [...eligible.slice(0, 3), worker("x", 0)],
    });
    // Bound ⌈(12 + 1) / 4⌉ = 4 over h, a, b and an idle eligible x that is not feasible.
    expect(ranked.map((r) => [r.worker.workerId, r.note])).toEqual([
      ["h", "at or above bound 4"],
      ["a", "at or above bound 4"],
      ["b", "at or above bound 4"],
    ]);
  });

  it("ranks nothing when nothing is feasible", () => {
    expect(
      rankWithBoundedLoads({
        c: 1.25,
        overflowCandidates: 3,
        keyOrder,
        feasible: [],
        eligible: [worker("h", 1)],
      }),
    ).toEqual([]);
  });
});
