import { Histogram } from "prom-client";
import { describe, expect, it } from "vitest";
import { registry } from "../../libs/telemetry/index.js";
import { bucketQuantile, histogramWindow } from "./histogram-window.js";

describe("histogram windows", () => {
  it("interpolate a quantile inside its bucket, as histogram_quantile does", () => {
    // 10 observations: 4 up to 0.1, 4 more up to 0.5, 2 more up to 1.
    const counts: [number, number][] = [
      [0.1, 4],
      [0.5, 8],
      [1, 10],
      [Number.POSITIVE_INFINITY, 10],
    ];
    expect(bucketQuantile(0.5, counts)).toBeCloseTo(0.1 + 0.4 * (1 / 4));
    expect(bucketQuantile(0.2, counts)).toBeCloseTo(0.05);
    expect(bucketQuantile(0.99, counts)).toBeCloseTo(0.5 + 0.5 * (1.9 / 2));
    expect(bucketQuantile(0.5, [[Number.POSITIVE_INFINITY, 0]])).toBeNull();
    // Past the last finite bound, the last finite bound.
    expect(
      bucketQuantile(0.99, [
        [1, 1],
        [Number.POSITIVE_INFINITY, 10],
      ]),
    ).toBe(1);
  });

  it("see only what was observed since the last take, summed over every label set", async () => {
    const histogram = new Histogram({
      name: "scalemesh_test_window_seconds",
      help: "a test histogram",
      labelNames: ["kind"] as const,
      buckets: [0.1, 1, 10],
      registers: [registry],
    });
    const window = histogramWindow("scalemesh_test_window_seconds");
    histogram.observe({ kind: "a" }, 5);
    histogram.observe({ kind: "b" }, 5);
    const first = await window.take();
    expect(first.count).toBe(2);
    expect(first.quantile(0.5)).toBeGreaterThan(1);
    histogram.observe({ kind: "a" }, 0.05);
    const second = await window.take();
    expect(second.count).toBe(1);
    expect(second.quantile(0.5)).toBeLessThanOrEqual(0.1);
    expect((await window.take()).quantile(0.5)).toBeNull();
    expect(await histogramWindow("scalemesh_no_such_metric").take()).toMatchObject({ count: 0 });
    registry.removeSingleMetric("scalemesh_test_window_seconds");
  });
});
