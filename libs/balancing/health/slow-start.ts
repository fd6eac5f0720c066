// Slow start (Envoy's slow_start_config): a new or recovered worker's weight
// ramps over a window instead of it receiving its full share at once, while
// its caches are cold:
//   weight = max(minWeightPercent / 100, (max(elapsed, 1 ms) / windowMs) ^ (1 / aggression))
// capped at 1. aggression 1 is linear; above 1 ramps faster early on.

export interface SlowStartOptions {
  readonly windowMs: number;
  readonly aggression: number;
  readonly minWeightPercent: number;
}

export const DEFAULT_SLOW_START_OPTIONS: SlowStartOptions = {
  windowMs: 30_000,
  aggression: 1,
  minWeightPercent: 10,
};

export function slowStartWeight(
  startedAtMs: number,
  nowMs: number,
  options: SlowStartOptions,
): number {
  const elapsedMs = nowMs - startedAtMs;
  if (options.windowMs <= 0 || elapsedMs >= options.windowMs) return 1;
  const timeFactor = Math.max(1, elapsedMs) / options.windowMs;
  const ramp = timeFactor ** (1 / Math.max(Number.EPSILON, options.aggression));
  return Math.min(1, Math.max(options.minWeightPercent / 100, ramp));
}
