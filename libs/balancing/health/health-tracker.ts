// What a balancer or the coordinator knows of each worker's health, fed by the
// caller (task outcomes, heartbeats, the optimizer's forecasts) with the time
// of each event, and read as WorkerHealth for the placement stack. The
// transitions are the pure functions beside this file; this object only keeps
// one record per worker. No clock of its own: every call brings nowMs.
import {
  CLOSED_CIRCUIT,
  DEFAULT_CIRCUIT_OPTIONS,
  circuitAt,
  recordCircuitOutcome,
  type Circuit,
  type CircuitOptions,
} from "./circuit-breaker.js";
import {
  DEFAULT_HEALTH_SCORE_OPTIONS,
  healthScore,
  median,
  updateErrorRate,
  type HealthScoreOptions,
} from "./health-score.js";
import { peakEwmaAt, updatePeakEwma, type PeakEwma } from "./peak-ewma.js";
import {
  DEFAULT_SLOW_START_OPTIONS,
  slowStartWeight,
  type SlowStartOptions,
} from "./slow-start.js";
import { HEALTHY_DEFAULTS, type WorkerHealth } from "../types.js";

export interface HealthTrackerOptions {
  readonly circuit: CircuitOptions;
  readonly slowStart: SlowStartOptions;
  readonly score: HealthScoreOptions;
  /** Peak EWMA decay period (tower and Linkerd use 10 s). */
  readonly latencyDecayMs: number;
  /**
   * How long a snapshot may be reused (0: rebuilt on every call). A snapshot
   * walks every worker and sorts their latencies; the balancer reuses one for
   * a few milliseconds so that a placement does not cost O(workers log workers).
   */
  readonly snapshotMaxAgeMs: number;
}

export interface TaskOutcome {
  readonly ok: boolean;
  readonly latencyMs: number;
  readonly nowMs: number;
}

export interface HealthTracker {
  recordOutcome(workerId: string, outcome: TaskOutcome): void;
  /** The worker is in the view; registeredAtMs, when known, starts a first-seen worker's slow start at its registration. */
  recordJoined(workerId: string, nowMs: number, registeredAtMs?: number): void;
  /** The optimizer's short-term forecast of the worker's in-flight tasks; undefined clears it. */
  recordForecast(workerId: string, forecastInFlight: number | undefined): void;
  healthOf(workerId: string, nowMs: number): WorkerHealth;
  /** Every tracked worker's health, for PlacementStack.rank's inputs (the fleet median computed once). */
  snapshot(nowMs: number): ReadonlyMap<string, WorkerHealth>;
  forget(workerId: string): void;
}

interface WorkerRecord {
  /** When the current slow-start ramp began: first seen, or the circuit closed again. */
  rampStartedAtMs: number;
  errorRate: number;
  latency: PeakEwma | undefined;
  circuit: Circuit;
  forecastInFlight: number | undefined;
}

export function createHealthTracker(overrides: Partial<HealthTrackerOptions> = {}): HealthTracker {
  const options: HealthTrackerOptions = {
    circuit: overrides.circuit ?? DEFAULT_CIRCUIT_OPTIONS,
    slowStart: overrides.slowStart ?? DEFAULT_SLOW_START_OPTIONS,
    score: overrides.score ?? DEFAULT_HEALTH_SCORE_OPTIONS,
    latencyDecayMs: overrides.latencyDecayMs ?? 10_000,
    snapshotMaxAgeMs: overrides.snapshotMaxAgeMs ?? 0,
  };
  const records = new Map<string, WorkerRecord>();
  let cached: { atMs: number; health: ReadonlyMap<string, WorkerHealth> } | undefined;

  const recordFor = (workerId: string, firstSeenAtMs: number): WorkerRecord => {
    let record = records.get(workerId);
    if (!record) {
      record = {
        rampStartedAtMs: firstSeenAtMs,
        errorRate: 0,
        latency: undefined,
        circuit: CLOSED_CIRCUIT,
        forecastInFlight: undefined,
      };
      records.set(workerId, record);
    }
    return record;
  };

  const latencyAt = (record: WorkerRecord, nowMs: number): number | undefined =>
    record.latency === undefined
      ? undefined
      : peakEwmaAt(record.latency, nowMs, options.latencyDecayMs);

  const fleetMedianAt = (nowMs: number): number | undefined =>
    median(
      [...records.values()].flatMap((r) =>
        r.latency === undefined ? [] : [latencyAt(r, nowMs) ?? 0],
      ),
    );

  const healthFrom = (
    record: WorkerRecord,
    nowMs: number,
    fleetMedianLatencyMs: number | undefined,
  ): WorkerHealth => {
    const latencyMs = latencyAt(record, nowMs);
    const score = healthScore(
      {
        errorRate: record.errorRate,
        latencyMs,
        fleetMedianLatencyMs,
      },
      options.score,
    );
    const health = {
      score,
      circuit: circuitAt(record.circuit, nowMs, options.circuit).kind,
      peakEwmaLatencyMs: latencyMs ?? 0,
      slowStartWeight: slowStartWeight(record.rampStartedAtMs, nowMs, options.slowStart),
    };
    return record.forecastInFlight === undefined
      ? health
      : { ...health, forecastInFlight: record.forecastInFlight };
  };

  return {
    recordOutcome(workerId, { ok, latencyMs, nowMs }) {
      const record = recordFor(workerId, nowMs);
      const wasHalfOpen = circuitAt(record.circuit, nowMs, options.circuit).kind === "half_open";
      record.circuit = recordCircuitOutcome(record.circuit, ok, nowMs, options.circuit);
      // A recovered worker ramps up again, like a new one.
      if (wasHalfOpen && record.circuit.kind === "closed") record.rampStartedAtMs = nowMs;
      record.errorRate = updateErrorRate(record.errorRate, ok, options.score);
      if (Number.isFinite(latencyMs) && latencyMs >= 0)
        record.latency = updatePeakEwma(record.latency, latencyMs, nowMs, options.latencyDecayMs);
    },
    recordJoined(workerId, nowMs, registeredAtMs) {
      const isNew = !records.has(workerId);
      const record = recordFor(workerId, nowMs);
      if (isNew && registeredAtMs !== undefined)
        record.rampStartedAtMs = Math.min(nowMs, registeredAtMs);
    },
    recordForecast(workerId, forecastInFlight) {
      const record = records.get(workerId);
      if (record) record.forecastInFlight = forecastInFlight;
    },
    healthOf(workerId, nowMs) {
      const record = records.get(workerId);
      if (!record) return HEALTHY_DEFAULTS;
      return healthFrom(record, nowMs, fleetMedianAt(nowMs));
    },
    snapshot(nowMs) {
      if (cached && nowMs >= cached.atMs && nowMs - cached.atMs < options.snapshotMaxAgeMs)
        return cached.health;
      const fleetMedianLatencyMs = fleetMedianAt(nowMs);
      const health = new Map(
        [...records].map(([workerId, record]) => [
          workerId,
          healthFrom(record, nowMs, fleetMedianLatencyMs),
        ]),
      );
      cached = { atMs: nowMs, health };
      return health;
    },
    forget(workerId) {
      records.delete(workerId);
      cached = undefined;
    },
  };
}
