// The balancer section as the options libs/balancing's strategies take.
import type { StrategyOptions } from "../balancing/strategy-options.js";
import type { Config } from "./schema.js";

export function strategyOptionsOf(balancer: Config["balancer"]): Partial<StrategyOptions> {
  const order = balancer.region_failover_order;
  // One global failover order: a region falls back to the others in the listed order.
  const regionFailover = Object.fromEntries(
    order.map((region) => [region, order.filter((other) => other !== region)]),
  );
  return {
    stickyTtlMs: balancer.sticky_ttl_sec * 1000,
    regionFailover,
    failbackDelayMs: balancer.failback_delay_sec * 1000,
    hashBalanceFactor: balancer.hash_balance_factor,
    hashOverflowCandidates:
      balancer.hash_overflow_candidates === 0
        ? Number.POSITIVE_INFINITY
        : balancer.hash_overflow_candidates,
  };
}
