// Round robin: each call starts one further along the feasible workers,
// ordered by id so every replica walks them in the same order.
import type { Strategy } from "../strategy.js";
import { compareWorkerIds } from "./order.js";

export function createRoundRobin(): Strategy {
  let next = 0;
  return {
    name: "round_robin",
    rank(feasible) {
      if (feasible.length === 0) return [];
      const ordered = [...feasible].sort(compareWorkerIds);
      const start = next % ordered.length;
      next = (next + 1) % 1_000_000_007;
      return ordered.map((_, i) => ({ worker: ordered[(start + i) % ordered.length], score: ordered.length - i }));
    },
  };
}
