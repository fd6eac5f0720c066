// Weighted capacity: weight = free slots × health score × slow-start weight.
// The first worker is a weighted random draw (so load spreads in proportion
// to what each worker can take, not all on the single best), the rest follow
// by weight, heaviest first, for Place-conflict fall-through.
import type { Strategy } from "../strategy.js";
import { healthOrDefault, type RandomSource, type RankedCandidate } from "../types.js";
import { compareWorkerIds, randomIndex } from "./order.js";

export function createWeightedCapacity(): Strategy {
  return {
    name: "weighted_capacity",
    rank(feasible, _request, { random, health }) {
      const weighted = [...feasible].sort(compareWorkerIds).map((worker) => {
        const { score, slowStartWeight } = healthOrDefault(health, worker.workerId);
        return {
          worker,
          score:
            Math.max(0, worker.slots - worker.inFlight) *
            clampUnit(score) *
            clampUnit(slowStartWeight),
        };
      });
      if (weighted.length === 0) return [];
      const firstIndex = drawWeighted(weighted, random);
      const [first] = weighted.splice(firstIndex, 1);
      // Stable sort: equal weights stay in id order.
      return [first, ...weighted.sort((a, b) => b.score - a.score)];
    },
  };
}

/** Index drawn with probability weight / total; uniform when every weight is zero. */
function drawWeighted(candidates: readonly RankedCandidate[], random: RandomSource): number {
  const total = candidates.reduce((sum, c) => sum + c.score, 0);
  if (total <= 0) return randomIndex(random, candidates.length);
  let remaining = random() * total;
  for (const [i, c] of candidates.entries()) {
    remaining -= c.score;
    if (remaining < 0 && c.score > 0) return i;
  }
  // Rounding left a sliver: the last worker with weight takes it.
  return candidates.findLastIndex((c) => c.score > 0);
}

function clampUnit(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}
