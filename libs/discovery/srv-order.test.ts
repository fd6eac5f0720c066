import { describe, expect, it } from "vitest";
import { orderSrvRecords, type WeightedRecord } from "./srv-order.js";
import { createSeededRandom } from "../balancing/seeded-random.js";

interface Row extends WeightedRecord {
  readonly name: string;
}

const row = (name: string, priority: number, weight: number): Row => ({ name, priority, weight });
const names = (rows: readonly Row[]) => rows.map((r) => r.name);

describe("orderSrvRecords", () => {
  const cases: { name: string; records: Row[]; random: () => number; expected: string[] }[] = [
    { name: "no records gives an empty order", records: [], random: () => 0, expected: [] },
    { name: "one record", records: [row("a", 5, 0)], random: () => 0.5, expected: ["a"] },
    {
      name: "lower priority first whatever the weights",
      records: [row("backup", 20, 100), row("primary", 10, 1)],
      random: () => 0.99,
      expected: ["primary", "backup"],
    },
    {
      name: "draw 0 takes the first listed of a priority",
      records: [row("a", 1, 1), row("b", 1, 3)],
      random: () => 0,
      expected: ["a", "b"],
    },
    {
      name: "the highest draw takes the last running sum",
      records: [row("a", 1, 1), row("b", 1, 3)],
      random: () => 0.999,
      expected: ["b", "a"],
    },
    {
      name: "weight-0 records are moved to the front, so draw 0 picks them",
      records: [row("heavy", 1, 10), row("zero", 1, 0)],
      random: () => 0,
      expected: ["zero", "heavy"],
    },
    {
      name: "weight-0 records lose to any positive draw",
      records: [row("heavy", 1, 10), row("zero", 1, 0)],
      random: () => 0.5,
      expected: ["heavy", "zero"],
    },
    {
      name: "all weights 0 keeps the input order",
      records: [row("a", 1, 0), row("b", 1, 0), row("c", 1, 0)],
      random: () => 0.7,
      expected: ["a", "b", "c"],
    },
    {
      name: "an injected random of 1 still yields every record",
      records: [row("a", 1, 2), row("b", 1, 2)],
      random: () => 1,
      expected: ["b", "a"],
    },
  ];

  it.each(cases)("$name", ({ records, random, expected }) => {
    expect(names(orderSrvRecords(records, random))).toEqual(expected);
  });

  it("returns a permutation with priorities ascending, for many random record sets", () => {
    const random = createSeededRandom(7);
    for (let round = 0; round < 500; round += 1) {
      const count = Math.floor(random() * 8);
      const records = Array.from({ length: count }, (_, i) =>
        row(`r${i}`, Math.floor(random() * 4) * 10, Math.floor(random() * 5)),
      );
      const ordered = orderSrvRecords(records, random);
      expect([...names(ordered)].sort()).toEqual([...names(records)].sort());
      for (let i = 1; i < ordered.length; i += 1) {
        expect(ordered[i]!.priority).toBeGreaterThanOrEqual(ordered[i - 1]!.priority);
      }
    }
  });

  it("does not change its input", () => {
    const records = [row("b", 2, 1), row("a", 1, 1)];
    orderSrvRecords(records, () => 0.3);
    expect(names(records)).toEqual(["b", "a"]);
  });

  // RFC 2782 draws from 0..sum inclusive: a record of weight w comes first
  // with probability w/(sum+1), and the first listed (weight-0 records are
  // listed first) also takes the draw 0, so (w+1)/(sum+1).
  const shareCases: { name: string; weights: number[]; expectedFirstShares: number[] }[] = [
    {
      name: "60/30/10",
      weights: [60, 30, 10],
      expectedFirstShares: [61 / 101, 30 / 101, 10 / 101],
    },
    {
      name: "equal weights",
      weights: [5, 5, 5, 5],
      expectedFirstShares: [6 / 21, 5 / 21, 5 / 21, 5 / 21],
    },
    {
      name: "a weight-0 record gets a small but real chance",
      weights: [0, 10],
      expectedFirstShares: [1 / 11, 10 / 11],
    },
  ];

  it.each(shareCases)(
    "honours weight shares over many draws: $name",
    ({ weights, expectedFirstShares }) => {
      const random = createSeededRandom(42);
      const draws = 20_000;
      const firstCounts = weights.map(() => 0);
      const records = weights.map((weight, i) => row(String(i), 1, weight));
      for (let draw = 0; draw < draws; draw += 1) {
        const first = orderSrvRecords(records, random)[0]!;
        firstCounts[Number(first.name)]! += 1;
      }
      firstCounts.forEach((count, i) => {
        expect(Math.abs(count / draws - expectedFirstShares[i]!)).toBeLessThan(0.02);
      });
      if (weights.includes(0)) expect(firstCounts[weights.indexOf(0)]).toBeGreaterThan(0);
    },
  );

  it("keeps weighted shares for the second place too (the draw repeats over the rest)", () => {
    const random = createSeededRandom(3);
    const records = [row("a", 1, 60), row("b", 1, 30), row("c", 1, 10)];
    const draws = 20_000;
    let bSecondAfterA = 0;
    let aFirst = 0;
    for (let draw = 0; draw < draws; draw += 1) {
      const ordered = names(orderSrvRecords(records, random));
      if (ordered[0] !== "a") continue;
      aFirst += 1;
      if (ordered[1] === "b") bSecondAfterA += 1;
    }
    // Once a is placed, b and c share 30:10 over the draws 0..40.
    expect(Math.abs(bSecondAfterA / aFirst - 31 / 41)).toBeLessThan(0.02);
  });
});
