import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  buildMaglevTable,
  DEFAULT_MAGLEV_TABLE_SIZE,
  isPrime,
  maglevLookup,
  maglevOrder,
  maglevTableFor,
} from "./maglev.js";
import { rendezvousOrder } from "./rendezvous.js";

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `worker-${i + 1}`);
const keys = Array.from({ length: 20_000 }, (_, i) => `tenant-${i}`);

function homes(workerIds: readonly string[]): string[] {
  const table = buildMaglevTable(workerIds);
  return keys.map((key) => maglevLookup(table, key)!);
}

describe("maglev table", () => {
  it("gives every worker ⌊M/n⌋ or ⌈M/n⌉ slots (the populate loop takes turns)", () => {
    for (const n of [1, 3, 10, 97]) {
      const table = buildMaglevTable(ids(n));
      const owned = new Array<number>(n).fill(0);
      for (const entry of table.entries) owned[entry]! += 1;
      expect(Math.min(...owned)).toBeGreaterThanOrEqual(Math.floor(DEFAULT_MAGLEV_TABLE_SIZE / n));
      expect(Math.max(...owned)).toBeLessThanOrEqual(Math.ceil(DEFAULT_MAGLEV_TABLE_SIZE / n));
    }
  });

  it("is the same table for any order of the ids, and built once per set", () => {
    const a = buildMaglevTable(["c", "a", "b"], 251);
    const b = buildMaglevTable(["b", "c", "a", "a"], 251);
    expect(b.workerIds).toEqual(["a", "b", "c"]);
    expect(b.entries).toEqual(a.entries);
    expect(maglevTableFor(["c", "a", "b"], 251)).toBe(maglevTableFor(["a", "b", "c"], 251));
  });

  const refusals: { name: string; ids: string[]; size: number; message: RegExp }[] = [
    { name: "a size that is not prime", ids: ["a"], size: 65_536, message: /prime/ },
    {
      name: "fewer slots than workers",
      ids: ["a", "b", "c", "d"],
      size: 3,
      message: /smaller than the 4 workers/,
    },
  ];
  for (const c of refusals) {
    it(`refuses ${c.name}`, () => {
      expect(() => buildMaglevTable(c.ids, c.size)).toThrow(c.message);
    });
  }

  it("knows its primes", () => {
    expect([2, 3, 251, 65_537].every(isPrime)).toBe(true);
    expect([0, 1, 4, 65_535, 2.5].some(isPrime)).toBe(false);
  });

  it("looks up nothing in an empty table", () => {
    expect(maglevLookup(buildMaglevTable([]), "k")).toBeUndefined();
    expect(maglevOrder("k", [])).toEqual([]);
  });
});

describe("maglev disruption (minimal, not zero: a few keys also move between workers that stayed)", () => {
  const before = homes(ids(10));

  it("removing a worker moves its own keys and fewer than 1 % of the others", () => {
    for (const removed of ids(10)) {
      const after = homes(ids(10).filter((id) => id !== removed));
      const stray = after.filter((home, i) => home !== before[i] && before[i] !== removed).length;
      expect(after.filter((home) => home === removed)).toEqual([]);
      expect(stray / keys.length).toBeLessThan(0.01);
    }
  });

  it("adding a worker takes about 1/(n+1) of the keys and moves fewer than 1 % between the others", () => {
    const after = homes([...ids(10), "worker-11"]);
    const moved = after.filter((home, i) => home !== before[i]).length;
    const stray = after.filter((home, i) => home !== before[i] && home !== "worker-11").length;
    expect(Math.abs(moved / keys.length - 1 / 11)).toBeLessThan(0.01);
    expect(stray / keys.length).toBeLessThan(0.01);
  });
});

describe("maglev order", () => {
  it("puts the table's home first, then the others in the key's rendezvous order, for any order of the list", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 16 }),
        fc
          .uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 12 })
          .chain((list) =>
            fc.tuple(fc.constant(list), fc.shuffledSubarray(list, { minLength: list.length })),
          ),
        (key, [list, shuffled]) => {
          const order = maglevOrder(key, list, 251);
          const home = maglevLookup(buildMaglevTable(list, 251), key)!;
          expect(order).toEqual([
            home,
            ...rendezvousOrder(
              key,
              list.filter((id) => id !== home),
            ),
          ]);
          expect(maglevOrder(key, shuffled, 251)).toEqual(order);
        },
      ),
      { numRuns: 50 },
    );
  });
});
