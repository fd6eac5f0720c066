// Peak EWMA of task latency (Finagle's PeakEwma, tower's RttEstimate): a
// sample above the estimate replaces it at once, so a worker that turns slow
// is avoided on its first slow answer; otherwise the estimate moves toward the
// sample with weight 1 - e^(-elapsed/decay), so it recovers over about
// decayMs. Reading the estimate later is an update with a zero sample: an
// idle worker's estimate decays toward 0 and it is tried again.

export interface PeakEwma {
  readonly estimateMs: number;
  readonly updatedAtMs: number;
}

export function updatePeakEwma(
  state: PeakEwma | undefined,
  sampleMs: number,
  nowMs: number,
  decayMs: number,
): PeakEwma {
  if (state === undefined) return { estimateMs: sampleMs, updatedAtMs: nowMs };
  if (sampleMs > state.estimateMs) return { estimateMs: sampleMs, updatedAtMs: nowMs };
  const elapsedMs = Math.max(0, nowMs - state.updatedAtMs);
  const keep = decayMs <= 0 ? 0 : Math.exp(-elapsedMs / decayMs);
  return {
    estimateMs: state.estimateMs * keep + sampleMs * (1 - keep),
    updatedAtMs: Math.max(nowMs, state.updatedAtMs),
  };
}

/** The estimate as of nowMs without a new sample (decayed toward 0), not stored. */
export function peakEwmaAt(state: PeakEwma, nowMs: number, decayMs: number): number {
  return updatePeakEwma(state, 0, nowMs, decayMs).estimateMs;
}
