// Least loaded: the lowest share of busy slots first (in-flight work counts);
// ties broken at random so equal workers share the load instead of the
// first one in the list taking everything.
import type { Strategy } from "../strategy.js";

export function createLeastLoaded(): Strategy {
  return {
    name: "least_loaded",
    rank(feasible, _request, random) {
      return feasible
        .map((worker) => ({ worker, score: 1 - worker.inFlight / Math.max(1, worker.slots), tieBreak: random() }))
        .sort((a, b) => b.score - a.score || a.tieBreak - b.tieBreak)
        .map(({ worker, score }) => ({ worker, score }));
    },
  };
}
