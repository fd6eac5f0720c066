// Load history per signal in bounded memory: every value lands in every
// tier's bucket (1 s, 1 min, 15 min by default), and each tier keeps only its
// retention behind its newest bucket, so a signal costs at most about
// Σ retention / resolution buckets however long it runs or however fast it
// is fed. Queries read the finest tier that still holds the asked range.
import {
  DEFAULT_TIERS,
  type Bucket,
  type Point,
  type SignalHistorySnapshot,
  type TierSpec,
} from "./forecast-types.js";

export interface PointsQuery {
  readonly fromMs: number;
  readonly toMs: number;
  /** The coarsest detail wanted: buckets are merged up to this; a finer tier is read only if it must be. */
  readonly resolutionSec?: number;
}

export interface SignalHistory {
  /** Adds a value; a non-finite value, or one older than a tier's retention, is not kept (by that tier). */
  append(atMs: number, value: number): void;
  /** Bucket means overlapping [fromMs, toMs], oldest first. */
  points(query: PointsQuery): Point[];
  snapshot(): SignalHistorySnapshot;
  /** Buckets held over all tiers. */
  size(): number;
}

interface MutableBucket {
  startMs: number;
  sum: number;
  count: number;
}

/** One tier: buckets sorted by start, live from `head` on (dropping from the front is a head move, compacted now and then). */
interface Tier {
  readonly spec: TierSpec;
  readonly resolutionMs: number;
  readonly retentionMs: number;
  buckets: MutableBucket[];
  head: number;
  /** Values held, so a query can tell whether this tier has lost anything another tier still holds. */
  valueCount: number;
}

export function createSignalHistory(tiers: readonly TierSpec[] = DEFAULT_TIERS): SignalHistory {
  return historyFromTiers(makeTiers(tiers));
}

/**
 * Rebuilds a history from a snapshot. With `tiers` given (say the
 * configuration changed across a restart) a tier missing from the snapshot
 * is rebuilt from the stored tier, among those whose resolution divides its
 * own, that holds the most values: the same sums it would have collected,
 * as far back as that tier reaches.
 */
export function restoreSignalHistory(
  snapshot: SignalHistorySnapshot,
  tiers?: readonly TierSpec[],
): SignalHistory {
  const stored = [...snapshot.tiers].sort((a, b) => a.spec.resolutionSec - b.spec.resolutionSec);
  const restored = makeTiers(tiers ?? stored.map((tier) => tier.spec));
  for (const tier of restored) {
    const source =
      stored.find(
        (s) =>
          s.spec.resolutionSec === tier.spec.resolutionSec &&
          s.spec.retentionSec === tier.spec.retentionSec,
      ) ??
      mostComplete(
        stored.filter(
          (s) =>
            s.spec.resolutionSec > 0 && tier.resolutionMs % (s.spec.resolutionSec * 1000) === 0,
        ),
      );
    if (source === undefined) continue;
    const valid = source.buckets.filter(
      (b) =>
        Number.isFinite(b.startMs) &&
        Number.isFinite(b.sum) &&
        Number.isInteger(b.count) &&
        b.count > 0,
    );
    // Ascending order, so each tier drops what its retention no longer covers as it goes.
    for (const bucket of [...valid].sort((a, b) => a.startMs - b.startMs))
      addToTier(tier, bucket.startMs, bucket.sum, bucket.count);
  }
  return historyFromTiers(restored);
}

type StoredTier = SignalHistorySnapshot["tiers"][number];

/** The stored tier holding the most values (the finest of equals, as `stored` is sorted fine to coarse). */
function mostComplete(stored: readonly StoredTier[]): StoredTier | undefined {
  const held = (tier: StoredTier): number =>
    tier.buckets.reduce((sum, b) => sum + (Number.isFinite(b.count) ? b.count : 0), 0);
  let best: StoredTier | undefined;
  for (const tier of stored) if (best === undefined || held(tier) > held(best)) best = tier;
  return best;
}

function makeTiers(specs: readonly TierSpec[]): Tier[] {
  if (specs.length === 0) throw new RangeError("a signal history needs at least one tier");
  for (const spec of specs) {
    if (!(spec.resolutionSec > 0) || !Number.isFinite(spec.resolutionSec))
      throw new RangeError(`tier resolutionSec must be positive, not ${spec.resolutionSec}`);
    if (!(spec.retentionSec >= spec.resolutionSec) || !Number.isFinite(spec.retentionSec)) {
      throw new RangeError(
        `tier retentionSec must be at least its resolution (${spec.resolutionSec} s), not ${spec.retentionSec}`,
      );
    }
  }
  return [...specs]
    .sort((a, b) => a.resolutionSec - b.resolutionSec)
    .map((spec) => ({
      spec: { ...spec },
      resolutionMs: spec.resolutionSec * 1000,
      retentionMs: spec.retentionSec * 1000,
      buckets: [],
      head: 0,
      valueCount: 0,
    }));
}

function historyFromTiers(tiers: Tier[]): SignalHistory {
  return {
    append(atMs, value) {
      if (!Number.isFinite(atMs) || !Number.isFinite(value)) return;
      for (const tier of tiers) addToTier(tier, atMs, value, 1);
    },
    points(query) {
      if (!(query.toMs >= query.fromMs)) return [];
      return readTier(pickTier(tiers, query), query);
    },
    snapshot() {
      return {
        tiers: tiers.map((tier) => ({
          spec: { ...tier.spec },
          buckets: tier.buckets
            .slice(tier.head)
            .map((b): Bucket => ({ startMs: b.startMs, sum: b.sum, count: b.count })),
        })),
      };
    },
    size() {
      return tiers.reduce((total, tier) => total + tier.buckets.length - tier.head, 0);
    },
  };
}

/** Adds `count` values summing to `sum` to the bucket holding `atMs`, then drops what fell out of retention. */
function addToTier(tier: Tier, atMs: number, sum: number, count: number): void {
  const startMs = Math.floor(atMs / tier.resolutionMs) * tier.resolutionMs;
  const { buckets } = tier;
  const newest = buckets.length > tier.head ? buckets[buckets.length - 1] : undefined;
  if (newest === undefined || startMs > newest.startMs) {
    buckets.push({ startMs, sum, count });
    tier.valueCount += count;
    dropExpired(tier, startMs);
    return;
  }
  if (startMs <= newest.startMs - tier.retentionMs) return; // late, and already past this tier's retention
  const index = findBucket(tier, startMs);
  const found = buckets[index];
  if (found !== undefined && found.startMs === startMs) {
    found.sum += sum;
    found.count += count;
  } else {
    buckets.splice(index, 0, { startMs, sum, count });
  }
  tier.valueCount += count;
}

/** Keeps buckets starting within the retention behind the newest: at most ceil(retention / resolution). */
function dropExpired(tier: Tier, newestStartMs: number): void {
  const cutoffMs = newestStartMs - tier.retentionMs;
  while (
    tier.head < tier.buckets.length &&
    (tier.buckets[tier.head] as MutableBucket).startMs <= cutoffMs
  ) {
    tier.valueCount -= (tier.buckets[tier.head] as MutableBucket).count;
    tier.head += 1;
  }
  // Compact once the dropped prefix outweighs the live part, so the array stays bounded at amortized O(1) per drop.
  if (tier.head > 64 && tier.head * 2 > tier.buckets.length) {
    tier.buckets = tier.buckets.slice(tier.head);
    tier.head = 0;
  }
}

/** The index of the first live bucket starting at or after `startMs` (binary search). */
function findBucket(tier: Tier, startMs: number): number {
  let low = tier.head;
  let high = tier.buckets.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((tier.buckets[mid] as MutableBucket).startMs < startMs) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * A tier covers `fromMs` when its retention still reaches back to it, or
 * when it holds as many values as any tier (so nothing older exists
 * elsewhere: a young history is read at full detail).
 */
function covers(tier: Tier, fromMs: number, mostValues: number): boolean {
  if (tier.valueCount >= mostValues) return true;
  const newest = tier.buckets[tier.buckets.length - 1];
  if (newest === undefined || tier.buckets.length === tier.head) return false;
  return (
    Math.floor(fromMs / tier.resolutionMs) * tier.resolutionMs > newest.startMs - tier.retentionMs
  );
}

function pickTier(tiers: readonly Tier[], query: PointsQuery): Tier {
  const mostValues = Math.max(...tiers.map((tier) => tier.valueCount));
  const covering = tiers.filter((tier) => covers(tier, query.fromMs, mostValues));
  // Nothing reaches that far back: the longest memory is the best answer there is.
  const longest = tiers.reduce((best, tier) => (tier.retentionMs > best.retentionMs ? tier : best));
  const pool = covering.length > 0 ? covering : [longest];
  if (query.resolutionSec === undefined || !(query.resolutionSec > 0)) return pool[0] as Tier;
  const wantedMs = query.resolutionSec * 1000;
  const fineEnough = pool.filter((tier) => tier.resolutionMs <= wantedMs);
  // The coarsest tier that divides the wanted resolution gives the same means as a finer one, with less to read.
  const dividing = fineEnough.filter((tier) => wantedMs % tier.resolutionMs === 0);
  return dividing[dividing.length - 1] ?? fineEnough[0] ?? (pool[0] as Tier);
}

function readTier(tier: Tier, query: PointsQuery): Point[] {
  const wantedMs =
    query.resolutionSec !== undefined && query.resolutionSec * 1000 > tier.resolutionMs
      ? query.resolutionSec * 1000
      : tier.resolutionMs;
  const merged: MutableBucket[] = [];
  for (let i = tier.head; i < tier.buckets.length; i += 1) {
    const bucket = tier.buckets[i] as MutableBucket;
    if (bucket.startMs + tier.resolutionMs <= query.fromMs) continue;
    if (bucket.startMs > query.toMs) break;
    const startMs = Math.floor(bucket.startMs / wantedMs) * wantedMs;
    const last = merged[merged.length - 1];
    if (last !== undefined && last.startMs === startMs) {
      last.sum += bucket.sum;
      last.count += bucket.count;
    } else {
      merged.push({ startMs, sum: bucket.sum, count: bucket.count });
    }
  }
  return merged.map((bucket) => ({ atMs: bucket.startMs, value: bucket.sum / bucket.count }));
}
