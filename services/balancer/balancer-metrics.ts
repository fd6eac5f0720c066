// The balancer's own Prometheus metrics, on the process registry of
// libs/telemetry: how its placements end, by strategy, and the conflicts and
// retries on the way (a conflict: the coordinator refused the chosen worker
// because another balancer filled it or it left; the next candidate is tried).
import { Counter } from "prom-client";
import { STRATEGY_NAMES, type StrategyName } from "../../libs/balancing/index.js";
import { registry } from "../../libs/telemetry/index.js";

/**
 * placed: on this balancer's choice; placed_by_coordinator or queued: the
 * coordinator's own choice once no candidate took it; existing: a repeat of
 * a task already accepted; refused: an error status.
 */
export const PLACEMENT_OUTCOMES = [
  "placed",
  "placed_by_coordinator",
  "queued",
  "existing",
  "refused",
] as const;
export type PlacementOutcome = (typeof PLACEMENT_OUTCOMES)[number];

const placements = new Counter({
  name: "scalemesh_balancer_placements_total",
  help: "Assign placements finished, by strategy and outcome.",
  labelNames: ["strategy", "outcome"] as const,
  registers: [registry],
});

const conflicts = new Counter({
  name: "scalemesh_balancer_placement_conflicts_total",
  help: "Place commits the coordinator refused for the chosen worker (full, draining or gone), by strategy.",
  labelNames: ["strategy"] as const,
  registers: [registry],
});

const retries = new Counter({
  name: "scalemesh_balancer_placement_retries_total",
  help: "Place calls after a conflict (the next candidate, or the coordinator's own choice), by strategy.",
  labelNames: ["strategy"] as const,
  registers: [registry],
});

export interface PlacementCounters {
  ended(outcome: PlacementOutcome): void;
  conflict(): void;
  retried(): void;
}

/** Children bound once per strategy; every series exists from the start, so a dashboard shows 0. */
function countersFor(strategy: StrategyName): PlacementCounters {
  const ended = new Map(
    PLACEMENT_OUTCOMES.map((outcome) => [outcome, placements.labels(strategy, outcome)]),
  );
  const conflict = conflicts.labels(strategy);
  const retry = retries.labels(strategy);
  for (const child of [...ended.values(), conflict, retry]) child.inc(0);
  return {
    ended: (outcome) => ended.get(outcome)?.inc(),
    conflict: () => conflict.inc(),
    retried: () => retry.inc(),
  };
}

const byStrategy = Object.fromEntries(
  STRATEGY_NAMES.map((strategy) => [strategy, countersFor(strategy)]),
) as Record<StrategyName, PlacementCounters>;

export function placementCountersOf(strategy: StrategyName): PlacementCounters {
  return byStrategy[strategy];
}
