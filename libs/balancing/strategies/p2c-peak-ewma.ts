// Power of two choices over peak-EWMA load (tower's p2c + PeakEwma, Finagle's
// Balancers.p2cPeakEwma): cost = peak EWMA latency × (in flight + 1). Sample
// two distinct workers, keep the cheaper (ties to the first drawn); the rest
// follow by the same cost so a Place conflict can fall through. Two random
// choices avoid the herd that "always the cheapest" causes when many
// balancers act on the same slightly stale view.
import type { StrategyOptions } from "../strategy-options.js";
import type { Strategy } from "../strategy.js";
import { healthOrDefault, type RandomSource, type RankedCandidate } from "../types.js";
import { compareWorkerIds, randomIndex } from "./order.js";

export function createP2cPeakEwma(options: Pick<StrategyOptions, "p2cDefaultLatencyMs">): Strategy {
  return {
    name: "p2c_peak_ewma",
    rank(feasible, _request, { random, health }) {
      // score = -cost, in ms × tasks: higher is better.
      const costed = [...feasible].sort(compareWorkerIds).map((worker) => {
        const latencyMs =
          healthOrDefault(health, worker.workerId).peakEwmaLatencyMs || options.p2cDefaultLatencyMs;
        return { worker, score: -latencyMs * (worker.inFlight + 1) };
      });
      const chosen = pickOfTwo(costed, random);
      if (chosen === undefined) return [];
      const [first] = costed.splice(chosen, 1);
      return [first, ...costed.sort((a, b) => b.score - a.score)];
    },
  };
}

/** tower's p2c: zero candidates, one, or two distinct draws keeping the better (ties to the first). */
function pickOfTwo(
  candidates: readonly RankedCandidate[],
  random: RandomSource,
): number | undefined {
  switch (candidates.length) {
    case 0:
      return undefined;
    case 1:
      return 0;
    default: {
      const a = randomIndex(random, candidates.length);
      // Draw b from the other n-1 and skip over a: two distinct, uniformly.
      let b = randomIndex(random, candidates.length - 1);
      if (b >= a) b += 1;
      return candidates[b].score > candidates[a].score ? b : a;
    }
  }
}
