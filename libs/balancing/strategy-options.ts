// The knobs of the strategies that have any, with their defaults. One flat
// object so a config section maps onto it key for key.

export interface StrategyOptions {
  /** p2c_peak_ewma: latency assumed for a worker with no measurement yet (tower's default RTT). */
  readonly p2cDefaultLatencyMs: number;
  /** sticky: a key's binding lapses this long after it was last used. */
  readonly stickyTtlMs: number;
  /** sticky: most keys remembered; the least recently used is forgotten first. */
  readonly stickyMaxKeys: number;
  /** sticky: below this health score a bound worker no longer keeps its keys. */
  readonly stickyMinHealthScore: number;
  /** region_aware: regions to try, in order, when the preferred one has no capacity. */
  readonly regionFailover: Readonly<Record<string, readonly string[]>>;
  /** region_aware: after a failover, how long the preferred region must have had capacity continuously before traffic returns. */
  readonly failbackDelayMs: number;
  /** predictive: how far ahead a worker's own trend is projected. */
  readonly predictiveHorizonMs: number;
  /** predictive: how much history the trend is fitted to. */
  readonly predictiveWindowMs: number;
  /** predictive: most in-flight samples kept per worker (samples are spaced over the window). */
  readonly predictiveMaxSamples: number;
  /** consistent_hash, maglev: no worker above ceil(factor x average) in flight (bounded loads). */
  readonly hashBalanceFactor: number;
  /** consistent_hash, maglev: how many of the key's next candidates an overflow chooses among. */
  readonly hashOverflowCandidates: number;
}

export const DEFAULT_STRATEGY_OPTIONS: StrategyOptions = {
  p2cDefaultLatencyMs: 30,
  stickyTtlMs: 300_000,
  stickyMaxKeys: 10_000,
  stickyMinHealthScore: 0.5,
  regionFailover: {},
  failbackDelayMs: 30_000,
  predictiveHorizonMs: 5_000,
  predictiveWindowMs: 10_000,
  predictiveMaxSamples: 20,
  hashBalanceFactor: 1.25,
  // All of the key's other workers: the simulator (test/bench/hashing-sim.ts)
  // shows smaller K leaves the quietest worker well below the mean.
  hashOverflowCandidates: Number.POSITIVE_INFINITY,
};
