// Random: a uniform shuffle (Fisher-Yates) of the feasible workers; the
// baseline every other strategy should beat.
import type { Strategy } from "../strategy.js";
import { compareWorkerIds, randomIndex } from "./order.js";

export function createRandom(): Strategy {
  return {
    name: "random",
    rank(feasible, _request, { random }) {
      const shuffled = [...feasible].sort(compareWorkerIds);
      for (let i = shuffled.length - 1; i > 0; i -= 1) {
        const j = randomIndex(random, i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
      }
      return shuffled.map((worker, i) => ({ worker, score: shuffled.length - i }));
    },
  };
}
