// Filter -> score -> pick, in one place (Nomad's stack, the Kubernetes
// scheduler framework). A new strategy is one file plus one line in STRATEGIES.
import { filterFeasible } from "./filters.js";
import { createSeededRandom } from "./seeded-random.js";
import { createConsistentHashStrategy, createMaglevStrategy } from "./hashing/hash-strategy.js";
import { createAffinity } from "./strategies/affinity.js";
import { createLeastConnections } from "./strategies/least-connections.js";
import { createLeastLoaded } from "./strategies/least-loaded.js";
import { createP2cPeakEwma } from "./strategies/p2c-peak-ewma.js";
import { createPredictive } from "./strategies/predictive.js";
import { createRandom } from "./strategies/random.js";
import { createRegionAware } from "./strategies/region-aware.js";
import { createRoundRobin } from "./strategies/round-robin.js";
import { createSticky } from "./strategies/sticky.js";
import { createWeightedCapacity } from "./strategies/weighted-capacity.js";
import { DEFAULT_STRATEGY_OPTIONS, type StrategyOptions } from "./strategy-options.js";
import type { Strategy } from "./strategy.js";
import type {
  PlacementRequest,
  RandomSource,
  Ranking,
  WorkerCandidate,
  WorkerHealth,
} from "./types.js";

const STRATEGIES = {
  round_robin: createRoundRobin,
  random: createRandom,
  least_loaded: createLeastLoaded,
  least_connections: createLeastConnections,
  weighted_capacity: createWeightedCapacity,
  p2c_peak_ewma: createP2cPeakEwma,
  affinity: createAffinity,
  sticky: createSticky,
  region_aware: createRegionAware,
  predictive: createPredictive,
  consistent_hash: (o: StrategyOptions) =>
    createConsistentHashStrategy({
      c: o.hashBalanceFactor,
      overflowCandidates: o.hashOverflowCandidates,
    }),
  maglev: (o: StrategyOptions) =>
    createMaglevStrategy({ c: o.hashBalanceFactor, overflowCandidates: o.hashOverflowCandidates }),
} as const satisfies Record<string, (options: StrategyOptions) => Strategy>;

export type StrategyName = keyof typeof STRATEGIES;
export const STRATEGY_NAMES = Object.keys(STRATEGIES) as StrategyName[];

export function isStrategyName(name: string): name is StrategyName {
  return Object.hasOwn(STRATEGIES, name);
}

/** What the caller knows at decision time beyond the view; both optional so older callers keep working. */
export interface PlacementInputs {
  readonly nowMs?: number;
  /** From a HealthTracker's snapshot; missing workers count as healthy. */
  readonly health?: ReadonlyMap<string, WorkerHealth>;
  /** Overrides the stack's random source for this call (tests replay a ranking exactly with it). */
  readonly random?: RandomSource;
  /** Only the best this many are wanted: `ranked` holds at most these, the same a full ranking puts first. */
  readonly limit?: number;
}

export interface PlacementStack {
  readonly defaultStrategy: StrategyName;
  /** Feasible workers best first under `strategy`, and why the others were dropped. Pure: changes nothing. */
  rank(
    workers: readonly WorkerCandidate[],
    request: PlacementRequest,
    strategy?: StrategyName,
    inputs?: PlacementInputs,
  ): Ranking;
  /**
   * Records that `workerId` took the task `ranking` was made for: the one
   * call that moves a strategy's state (sticky binding, round-robin position,
   * load samples, failover timer). Call it after Place succeeded, never before.
   */
  commit(ranking: Ranking, workerId: string): void;
}

export interface PlacementStackOptions {
  readonly defaultStrategy: StrategyName;
  /** Defaults to a fixed-seed source: pass Math.random (or a per-replica seed) in services so replicas do not draw alike. */
  readonly random?: RandomSource;
  /** Used when a call brings no nowMs. Without either, time stands still at the last nowMs seen (TTLs and failback wait). */
  readonly now?: () => number;
  readonly strategies?: Partial<StrategyOptions>;
}

const NO_HEALTH: ReadonlyMap<string, WorkerHealth> = new Map();

export function createPlacementStack(options: PlacementStackOptions): PlacementStack {
  const random = options.random ?? createSeededRandom(0x5ca1e);
  const strategyOptions: StrategyOptions = { ...DEFAULT_STRATEGY_OPTIONS, ...options.strategies };
  // Strategies keep their own small state (round robin's position, the sticky
  // table, failover timers, load trends), one set per stack.
  const strategies = Object.fromEntries(
    Object.entries(STRATEGIES).map(([name, make]) => [name, make(strategyOptions)]),
  ) as Record<StrategyName, Strategy>;
  // Time never runs backwards for the strategies' timers: a ranking is made
  // no earlier than the last commit.
  let committedNowMs = 0;
  const strategyOf = (name: string): Strategy | undefined =>
    isStrategyName(name) ? strategies[name] : undefined;
  return {
    defaultStrategy: options.defaultStrategy,
    rank(workers, request, strategyName = options.defaultStrategy, inputs = {}) {
      const nowMs = Math.max(committedNowMs, inputs.nowMs ?? options.now?.() ?? committedNowMs);
      const health = inputs.health ?? NO_HEALTH;
      // 1. Feasibility: alive, taking tasks, capable, in the required region
      //    and zone, circuit not open; then room (a free slot, the half-open probe).
      const { feasible, eligible, rejected } = filterFeasible(workers, request, health);
      // 2-3. Score and order: the strategy ranks every feasible worker, best first.
      const strategy = strategies[strategyName];
      const ranked = strategy.rank(feasible, request, {
        nowMs,
        random: inputs.random ?? random,
        health,
        eligible,
        limit: inputs.limit,
      });
      if (inputs.limit !== undefined && ranked.length > inputs.limit)
        ranked.length = Math.max(0, inputs.limit);
      const decision = { request, nowMs, feasible, eligible };
      const reason = ranked[0]?.note;
      return reason === undefined
        ? { strategy: strategy.name, ranked, rejected, decision }
        : { strategy: strategy.name, ranked, rejected, reason, decision };
    },
    commit(ranking, workerId) {
      committedNowMs = Math.max(committedNowMs, ranking.decision.nowMs);
      strategyOf(ranking.strategy)?.commit?.({ ...ranking.decision, workerId });
    },
  };
}
