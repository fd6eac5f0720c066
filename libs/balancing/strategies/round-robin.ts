// Round robin: each placement starts one further along the feasible workers,
// ordered by id so every replica walks them in the same order. The position
// is the last worker a placement was committed to; ranking starts at the
// next id after it, so asking (Route) or a refused Place moves nothing, and
// a worker that left or filled up is simply skipped.
import type { Strategy } from "../strategy.js";
import { compareWorkerIds } from "./order.js";

export function createRoundRobin(): Strategy {
  let lastWorkerId: string | undefined;
  return {
    name: "round_robin",
    rank(feasible) {
      if (feasible.length === 0) return [];
      const ordered = [...feasible].sort(compareWorkerIds);
      const after =
        lastWorkerId === undefined
          ? -1
          : ordered.findIndex((w) => w.workerId > (lastWorkerId as string));
      const start = after === -1 ? 0 : after;
      return ordered.map((_, i) => ({
        worker: ordered[(start + i) % ordered.length],
        score: ordered.length - i,
      }));
    },
    commit({ workerId }) {
      lastWorkerId = workerId;
    },
  };
}
