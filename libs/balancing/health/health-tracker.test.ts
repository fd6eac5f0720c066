import { describe, expect, it } from "vitest";
import { createHealthTracker } from "./health-tracker.js";

const FAST_RAMP = { slowStart: { windowMs: 10_000, aggression: 1, minWeightPercent: 10 } };

describe("health tracker", () => {
  it("takes an unknown worker to be healthy", () => {
    expect(createHealthTracker().healthOf("w", 0)).toEqual({
      score: 1,
      circuit: "closed",
      peakEwmaLatencyMs: 0,
      slowStartWeight: 1,
    });
  });

  it("ramps a worker's weight from when it is first seen", () => {
    const tracker = createHealthTracker(FAST_RAMP);
    tracker.recordJoined("w", 0);
    expect(tracker.healthOf("w", 0).slowStartWeight).toBe(0.1);
    expect(tracker.healthOf("w", 5_000).slowStartWeight).toBeCloseTo(0.5);
    expect(tracker.healthOf("w", 10_000).slowStartWeight).toBe(1);
  });

  it("starts the ramp at the registration time when the caller knows it", () => {
    const tracker = createHealthTracker(FAST_RAMP);
    tracker.recordJoined("w", 8_000, 0);
    expect(tracker.healthOf("w", 8_000).slowStartWeight).toBeCloseTo(0.8);
  });

  it("opens the circuit after 5 consecutive failures, half-opens after 10 s, closes on a good probe and ramps again", () => {
    const tracker = createHealthTracker(FAST_RAMP);
    for (let i = 0; i < 5; i += 1)
      tracker.recordOutcome("w", { ok: false, latencyMs: 5, nowMs: i });
    expect(tracker.healthOf("w", 4).circuit).toBe("open");
    expect(tracker.healthOf("w", 10_003).circuit).toBe("open");
    expect(tracker.healthOf("w", 10_004).circuit).toBe("half_open");
    tracker.recordOutcome("w", { ok: true, latencyMs: 5, nowMs: 12_000 });
    const recovered = tracker.healthOf("w", 12_000);
    expect(recovered.circuit).toBe("closed");
    expect(recovered.slowStartWeight).toBe(0.1);
  });

  it("lowers the score with the recent error rate", () => {
    const tracker = createHealthTracker();
    for (let i = 0; i < 4; i += 1)
      tracker.recordOutcome("w", { ok: i % 2 === 0, latencyMs: 10, nowMs: i });
    const { score } = tracker.healthOf("w", 4);
    expect(score).toBeLessThan(0.95);
    expect(score).toBeGreaterThan(0.5);
  });

  it("lowers the score of a worker much slower than the fleet's median", () => {
    const tracker = createHealthTracker();
    for (const [id, latencyMs] of [
      ["a", 10],
      ["b", 10],
      ["c", 10],
      ["slow", 60],
    ] as const)
      tracker.recordOutcome(id, { ok: true, latencyMs, nowMs: 0 });
    const health = tracker.snapshot(0);
    expect(health.get("a")?.score).toBe(1);
    expect(health.get("slow")?.score).toBeCloseTo((1.5 * 10) / 60);
    expect(health.get("slow")?.peakEwmaLatencyMs).toBe(60);
  });

  it("passes the optimizer's forecast through, and forgets a worker entirely", () => {
    const tracker = createHealthTracker();
    tracker.recordJoined("w", 0);
    tracker.recordForecast("w", 2.5);
    expect(tracker.healthOf("w", 0).forecastInFlight).toBe(2.5);
    tracker.forget("w");
    expect(tracker.snapshot(0).size).toBe(0);
  });

  it("reuses a snapshot for snapshotMaxAgeMs, then rebuilds it with what changed", () => {
    const tracker = createHealthTracker({ ...FAST_RAMP, snapshotMaxAgeMs: 20 });
    tracker.recordJoined("w", 0);
    const first = tracker.snapshot(1_000);
    for (let i = 0; i < 5; i += 1)
      tracker.recordOutcome("w", { ok: false, latencyMs: 10, nowMs: 1_005 });
    // Within 20 ms: the same snapshot, the failures not seen yet.
    expect(tracker.snapshot(1_019)).toBe(first);
    expect(first.get("w")?.circuit).toBe("closed");
    // Past it: rebuilt, the circuit open.
    const later = tracker.snapshot(1_020);
    expect(later).not.toBe(first);
    expect(later.get("w")?.circuit).toBe("open");
    // A clock that went back never gets a snapshot from its future.
    expect(tracker.snapshot(1_010)).not.toBe(later);
  });
});
