// Filter -> score -> pick, in one place (Nomad's stack, the Kubernetes
// scheduler framework). A new strategy is one file plus one line in STRATEGIES.
import { filterFeasible } from "./filters.js";
import type { Strategy } from "./strategy.js";
import { createLeastLoaded } from "./strategies/least-loaded.js";
import { createRoundRobin } from "./strategies/round-robin.js";
import type { PlacementRequest, RandomSource, Ranking, WorkerCandidate } from "./types.js";

const STRATEGIES = {
  round_robin: createRoundRobin,
  least_loaded: createLeastLoaded,
} as const satisfies Record<string, () => Strategy>;

export type StrategyName = keyof typeof STRATEGIES;
export const STRATEGY_NAMES = Object.keys(STRATEGIES) as StrategyName[];

export function isStrategyName(name: string): name is StrategyName {
  return Object.hasOwn(STRATEGIES, name);
}

export interface PlacementStack {
  readonly defaultStrategy: StrategyName;
  /** Feasible workers best first under `strategy`, and why the others were dropped. */
  rank(workers: readonly WorkerCandidate[], request: PlacementRequest, strategy?: StrategyName): Ranking;
}

export function createPlacementStack(options: { defaultStrategy: StrategyName; random?: RandomSource }): PlacementStack {
  const random = options.random ?? Math.random;
  // Strategies keep their own small state (round robin's position), one per stack.
  const strategies = Object.fromEntries(
    Object.entries(STRATEGIES).map(([name, make]) => [name, make()]),
  ) as Record<StrategyName, Strategy>;
  return {
    defaultStrategy: options.defaultStrategy,
    rank(workers, request, strategyName = options.defaultStrategy) {
      // 1. Feasibility: alive, taking tasks, capable, with a free slot.
      const { feasible, rejected } = filterFeasible(workers, request);
      // 2-3. Score and order: the strategy ranks only feasible workers.
      const strategy = strategies[strategyName];
      return { strategy: strategy.name, ranked: strategy.rank(feasible, request, random), rejected };
    },
  };
}
