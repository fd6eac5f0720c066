// Round robin: each call starts one further along the feasible workers,
// ordered by id so every replica walks them in the same order.
import type { Strategy } from "../strategy.js";

export function createRoundRobin(): Strategy {
  let next = 0;
  return {
    name: "round_robin",
    rank(feasible) {
      const ordered = [...feasible].sort((a, b) => (a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0));
      if (ordered.length === 0) return [];
      const start = next % ordered.length;
      next = (next + 1) % 1_000_000_007;
      return ordered.map((_, i) => {
        const worker = ordered[(start + i) % ordered.length] as (typeof ordered)[number];
        return { worker, score: ordered.length - i };
      });
    },
  };
}
