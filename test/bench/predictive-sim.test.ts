import { describe, expect, it } from "vitest";
import { autoscalePolicyOf } from "../../services/coordinator/autoscale-policy-config.js";
import { formatComparison, runComparison, simulateCompared } from "./autoscaler-comparison.js";
import type { FleetOutcome } from "./fleet-sim.js";
import {
  benchConfig,
  buildTrace,
  constantTrace,
  DEFAULT_MODEL,
  simulatePolicy,
  type Trace,
} from "./predictive-sim.js";

const { slotsPerWorker: k, taskSec } = DEFAULT_MODEL;
const target = autoscalePolicyOf(benchConfig()).targets.slotUtilization;

function expectConserved(outcome: FleetOutcome, trace: Trace): void {
  const offered = trace.ratesPerSec.reduce((sum, rate) => sum + rate * trace.tickSec, 0);
  expect(outcome.arrivedTasks).toBeCloseTo(offered, 6);
  expect(outcome.servedTasks + outcome.queuedTasks).toBeCloseTo(outcome.arrivedTasks, 6);
  expect(outcome.queuedTasks).toBeGreaterThanOrEqual(0);
}

describe("predictive scaling simulator", () => {
  // The ramp: the trace where the forecast has something to say ahead of the load.
  const step = buildTrace("ramp", 1);
  const reactive = simulatePolicy({ trace: step, policy: "reactive" });
  const predictive = simulatePolicy({ trace: step, policy: "predictive" });

  it("serves or queues every task that arrives, under either policy", () => {
    expectConserved(reactive, step);
    expectConserved(predictive, step);
  });

  it("replays exactly for the same seed, and another seed gives another run", () => {
    expect(simulatePolicy({ trace: buildTrace("ramp", 1), policy: "predictive" })).toEqual(
      predictive,
    );
    const other = buildTrace("ramp", 2);
    expect(other.ratesPerSec).not.toEqual(step.ratesPerSec);
    expect(simulatePolicy({ trace: other, policy: "predictive" })).not.toEqual(predictive);
  });

  it("lets only the predictive policy scale ahead of the load, and scores its forecasts", () => {
    // The diurnal rise is where the forecast gets ahead of the measured load (on the ramp the gradual steps bind both).
    const diurnal = buildTrace("diurnal", 1);
    expect(
      simulatePolicy({ trace: diurnal, policy: "predictive-optimizer" }).predictiveScaleUps,
    ).toBeGreaterThan(0);
    expect(reactive.predictiveScaleUps).toBe(0);
    expect(reactive.mape).toBeUndefined();
    expect(predictive.forecastsScored).toBeGreaterThan(0);
    expect(predictive.mape).toBeGreaterThan(0);
  });

  it.each([
    { ratePerSec: 3, startWorkers: 8 },
    { ratePerSec: 10, startWorkers: 30 },
    { ratePerSec: 25, startWorkers: 58 },
  ])(
    "settles a constant $ratePerSec/s on exactly ceil(λ·S / (k·target)) workers from $startWorkers",
    ({ ratePerSec, startWorkers }) => {
      const needed = Math.ceil((ratePerSec * taskSec) / (k * target));
      const trace = constantTrace(ratePerSec, 1800);
      for (const policy of ["reactive", "predictive-optimizer", "predictive"] as const) {
        const outcome = simulatePolicy({ trace, policy, initialWorkers: startWorkers });
        expect(outcome.finalWorkers, policy).toBe(needed);
        expect(outcome.sloViolationMin, policy).toBe(0);
        expectConserved(outcome, trace);
        // Constant demand is forecast exactly.
        if (policy !== "reactive") expect(outcome.mape).toBeLessThan(1e-9);
      }
    },
  );

  it("counts queue wait with no ready worker as an SLO violation", () => {
    const outcome = simulatePolicy({
      trace: constantTrace(10, 600),
      policy: "reactive",
      initialWorkers: 0,
    });
    expect(outcome.maxWaitSec).toBe(Number.POSITIVE_INFINITY);
    // Nothing can serve until the first worker is ready a start time later.
    expect(outcome.sloViolationMin).toBeGreaterThanOrEqual(DEFAULT_MODEL.workerStartSec / 60);
    expect(outcome.finalWorkers).toBeGreaterThan(0);
    expectConserved(outcome, constantTrace(10, 600));
  });

  it("builds the spike as ×5 for ten minutes and the diurnal day as 2 → 24/s, trough at 04:00", () => {
    const mean = (values: readonly number[]): number =>
      values.reduce((sum, v) => sum + v, 0) / values.length;
    const spike = buildTrace("spike", 1).ratesPerSec;
    expect(mean(spike.slice(3600, 4200)) / mean(spike.slice(1800, 3600))).toBeCloseTo(5, 0);
    const diurnal = buildTrace("diurnal", 1);
    const ticksPerHour = 3600 / diurnal.tickSec;
    for (let hour = 0; hour < 24; hour += 1) {
      // The same hour of all three days: the noise averages out to about 1 %.
      const rates = [0, 1, 2].flatMap((day) =>
        diurnal.ratesPerSec.slice(
          (day * 24 + hour) * ticksPerHour,
          (day * 24 + hour + 1) * ticksPerHour,
        ),
      );
      const expected = 2 + (22 * (1 - Math.cos((2 * Math.PI * (hour + 0.5 - 4)) / 24))) / 2;
      expect(Math.abs(mean(rates) / expected - 1), `hour ${hour}`).toBeLessThan(0.1);
    }
    expect(diurnal.measureFromSec).toBe(2 * 86_400);
  });

  it("settles the HPA and KEDA on a constant load too, and KEDA on ceil(demand / queueLength)", () => {
    const trace = constantTrace(10, 1800);
    // 10/s of 2 s tasks is 20 busy slots: the HPA aims at 20 / (4 × 0.55) ≈ 9.1 within its 0.1 tolerance; KEDA at 20 / 2 = 10.
    const hpa = simulateCompared(trace, "hpa");
    expect(hpa.finalWorkers).toBeGreaterThanOrEqual(9);
    expect(hpa.finalWorkers).toBeLessThanOrEqual(10);
    expect(simulateCompared(trace, "keda").finalWorkers).toBe(10);
    for (const policy of ["hpa", "keda"] as const) {
      const outcome = simulateCompared(trace, policy);
      expect(outcome.sloViolationMin, policy).toBe(0);
      expectConserved(outcome, trace);
    }
  });

  it("times a rise to enough workers: never sooner than one worker start, and the HPA slower than KEDA on a 5× step", () => {
    const step = buildTrace("step", 1);
    const hpa = simulateCompared(step, "hpa");
    const keda = simulateCompared(step, "keda");
    for (const outcome of [hpa, keda, reactive]) {
      expect(outcome.timeToEnoughSec).toBeGreaterThanOrEqual(DEFAULT_MODEL.workerStartSec);
      expect(Number.isFinite(outcome.timeToEnoughSec)).toBe(true);
    }
    // CPU saturates at 100 % and pending pods count as 0 %: the HPA needs more rounds than a queue-length target.
    expect(hpa.timeToEnoughSec).toBeGreaterThan(keda.timeToEnoughSec ?? Infinity);
    expect(buildTrace("noisy", 1).rise).toBeUndefined();
  });

  it("falls back to the reactive policy where the forecast is wrong (the noisy trace)", () => {
    const noisy = buildTrace("noisy", 1);
    const reactiveNoisy = simulatePolicy({ trace: noisy, policy: "reactive" });
    const predictiveNoisy = simulatePolicy({ trace: noisy, policy: "predictive" });
    expect(predictiveNoisy.workerHours).toBeCloseTo(reactiveNoisy.workerHours, 6);
    expect(predictiveNoisy.sloViolationMin).toBe(reactiveNoisy.sloViolationMin);
  });

  it("prints one table per trace, one row per autoscaler, each figure with its ratio to the HPA's", () => {
    const report = formatComparison(runComparison({ traces: ["spike"] }));
    const rows = report.split("\n").filter((line) => /^\| (Kubernetes|KEDA|scalemesh)/.test(line));
    expect(rows).toHaveLength(5);
    expect(rows[0]).toMatch(
      /^\| Kubernetes HPA \(CPU\) \| [\d.]+ \(1\.00\) \| [\d.]+ \(1\.00\) \| [\d.]+ \(1\.00\) \| \d+ s \(1\.00\) \|$/,
    );
    for (const row of rows.slice(1))
      expect(row).toMatch(/\| [\d.]+ \((\d+\.\d{2}|—)\) \| [\d.]+ \(\d+\.\d{2}\) \|/);
  });
});
