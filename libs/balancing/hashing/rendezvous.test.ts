import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rendezvousOrder } from "./rendezvous.js";

const workerIdsArb = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), {
  minLength: 1,
  maxLength: 16,
});
const keyArb = fc.string({ maxLength: 24 });

describe("rendezvous order", () => {
  it("ranks every worker once, the same for any order of the list", () => {
    fc.assert(
      fc.property(
        keyArb,
        workerIdsArb.chain((ids) =>
          fc.tuple(fc.constant(ids), fc.shuffledSubarray(ids, { minLength: ids.length })),
        ),
        (key, [ids, shuffled]) => {
          const order = rendezvousOrder(key, ids);
          expect([...order].sort()).toEqual([...ids].sort());
          expect(rendezvousOrder(key, shuffled)).toEqual(order);
        },
      ),
    );
  });

  it("removing a worker leaves every other worker's place in each key's order", () => {
    fc.assert(
      fc.property(keyArb, workerIdsArb, fc.nat(), (key, ids, pick) => {
        const removed = ids[pick % ids.length]!;
        const before = rendezvousOrder(key, ids);
        expect(
          rendezvousOrder(
            key,
            ids.filter((id) => id !== removed),
          ),
        ).toEqual(before.filter((id) => id !== removed));
      }),
    );
  });

  it("adding a worker only inserts it: keys move to the new worker and nowhere else", () => {
    fc.assert(
      fc.property(keyArb, workerIdsArb, (key, ids) => {
        const added = `new-${ids.join("")}`;
        expect(rendezvousOrder(key, [...ids, added]).filter((id) => id !== added)).toEqual(
          rendezvousOrder(key, ids),
        );
      }),
    );
  });

  it("spreads 20,000 keys over 10 workers within 5 % of even", () => {
    const ids = Array.from({ length: 10 }, (_, i) => `worker-${i + 1}`);
    const counts = new Map<string, number>();
    for (let i = 0; i < 20_000; i += 1) {
      const home = rendezvousOrder(`tenant-${i}`, ids)[0]!;
      counts.set(home, (counts.get(home) ?? 0) + 1);
    }
    for (const id of ids) expect(Math.abs((counts.get(id) ?? 0) - 2000)).toBeLessThan(100);
  });

  it("orders nothing for no workers", () => {
    expect(rendezvousOrder("k", [])).toEqual([]);
  });
});
