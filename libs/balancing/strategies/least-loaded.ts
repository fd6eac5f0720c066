// Least loaded: the largest share of free slots first (in-flight work
// counts), so a big worker half busy beats a small one nearly full.
import type { Strategy } from "../strategy.js";
import { freeShare, rankByScore } from "./order.js";

export function createLeastLoaded(): Strategy {
  return {
    name: "least_loaded",
    rank: (feasible, _request, { random, limit }) =>
      rankByScore(feasible, freeShare, random, undefined, limit),
  };
}
