// Quantiles of a Prometheus histogram over the last window, as
// histogram_quantile(q, rate(name_bucket[window])) would give them: the
// bucket counts of every label set summed, minus those of the previous
// reading, and the quantile interpolated inside its bucket. The live page's
// p50 and p99 are read this way from the same histograms /metrics serves.
import { registry } from "../../libs/telemetry/index.js";

export interface WindowQuantiles {
  /** Observations in the window. */
  readonly count: number;
  /** The q-quantile in the histogram's unit; null when the window is empty. */
  quantile(q: number): number | null;
}

export interface HistogramWindow {
  /** What was observed since the previous take (everything so far, the first time). */
  take(): Promise<WindowQuantiles>;
}

type Buckets = Map<number, number>;

async function cumulativeBuckets(name: string): Promise<Buckets> {
  const buckets: Buckets = new Map();
  const metric = registry.getSingleMetric(name);
  if (!metric) return buckets;
  const { values } = await metric.get();
  for (const value of values as {
    metricName?: string;
    labels: Record<string, unknown>;
    value: number;
  }[]) {
    if (value.metricName !== `${name}_bucket`) continue;
    const le = String(value.labels.le);
    const bound = le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + value.value);
  }
  return buckets;
}

/** The q-quantile of cumulative bucket counts `counts` (ascending bounds), interpolated linearly. */
export function bucketQuantile(q: number, counts: readonly [number, number][]): number | null {
  const total = counts.at(-1)?.[1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [bound, count] of counts) {
    if (count >= rank) {
      // Past the last finite bound the answer is that bound, as Prometheus gives it.
      if (!Number.isFinite(bound)) return lowerBound;
      const inBucket = count - lowerCount;
      return inBucket <= 0
        ? bound
        : lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / inBucket;
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return lowerBound;
}

export function histogramWindow(name: string): HistogramWindow {
  let previous: Buckets = new Map();
  return {
    async take() {
      const now = await cumulativeBuckets(name);
      const counts = [...now.entries()]
        .sort(([a], [b]) => a - b)
        .map(([bound, count]): [number, number] => [
          bound,
          Math.max(0, count - (previous.get(bound) ?? 0)),
        ]);
      previous = now;
      const total = counts.at(-1)?.[1] ?? 0;
      return { count: total, quantile: (q) => bucketQuantile(q, counts) };
    },
  };
}
