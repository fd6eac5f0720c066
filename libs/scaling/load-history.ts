// The recent load samples, bounded twice: at most `maxSamples` (a fixed ring,
// so a client streaming too fast costs no more memory), and none older than
// `horizonSec` at the time asked. The clock is passed in on every call.
import type { LoadRecord } from "./load-record.js";

export interface LoadHistoryOptions {
  readonly maxSamples: number;
  readonly horizonSec: number;
}

export interface LoadHistory {
  readonly maxSamples: number;
  readonly horizonSec: number;
  /** Samples held, including any that have passed the horizon and not yet been dropped. */
  readonly size: number;
  /**
   * Keeps `record`, dropping the oldest when the ring is full. A record
   * already past the horizon at `nowMs` is not kept.
   */
  append(record: LoadRecord, nowMs: number): void;
  /** The samples inside the horizon at `nowMs`, in arrival order (oldest first). */
  samples(nowMs: number): LoadRecord[];
}

export function createLoadHistory(options: LoadHistoryOptions): LoadHistory {
  const { maxSamples, horizonSec } = options;
  if (!Number.isInteger(maxSamples) || maxSamples < 1)
    throw new RangeError(`maxSamples must be a positive integer, not ${maxSamples}`);
  if (!(horizonSec > 0)) throw new RangeError(`horizonSec must be positive, not ${horizonSec}`);
  const ring: (LoadRecord | undefined)[] = new Array<LoadRecord | undefined>(maxSamples);
  let oldest = 0;
  let count = 0;

  const isExpired = (record: LoadRecord, nowMs: number): boolean =>
    record.observedAtMs < nowMs - horizonSec * 1000;
  const dropOldest = (): void => {
    ring[oldest] = undefined;
    oldest = (oldest + 1) % maxSamples;
    count -= 1;
  };
  // Only the oldest end is trimmed: a straggler that arrived late sits
  // behind newer records until they expire, and `samples` filters it out.
  const dropExpired = (nowMs: number): void => {
    while (count > 0 && isExpired(ring[oldest] as LoadRecord, nowMs)) dropOldest();
  };

  return {
    maxSamples,
    horizonSec,
    get size() {
      return count;
    },
    append(record, nowMs) {
      dropExpired(nowMs);
      if (isExpired(record, nowMs)) return;
      if (count === maxSamples) dropOldest();
      ring[(oldest + count) % maxSamples] = record;
      count += 1;
    },
    samples(nowMs) {
      dropExpired(nowMs);
      const kept: LoadRecord[] = [];
      for (let i = 0; i < count; i += 1) {
        const record = ring[(oldest + i) % maxSamples] as LoadRecord;
        if (!isExpired(record, nowMs)) kept.push(record);
      }
      return kept;
    },
  };
}
