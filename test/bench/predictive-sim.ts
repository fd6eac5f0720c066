// Predictive vs reactive scaling in simulated time. Synthetic arrival-rate
// traces (diurnal, step, spike, noisy; seeded) are replayed through the code
// the services run: the coordinator's policy (libs/scaling decideScale with
// the coordinator's own config mapping and loop rules) and, for the
// predictive policy, the optimizer's own forecaster (its demand forecast one
// worker start ahead, and burst detection on the arrival rate). Reports per
// trace and policy the minutes the queue wait broke the SLO, the
// worker-hours paid for, and the error of the demand forecasts the run made.
// Run it directly with `node dist/test/bench/predictive-sim.js` after a build.
//
// The model is a fluid queue with a fixed tick: tasks arrive at λ(t) per
// second, each holds a slot for taskSec, a worker has slotsPerWorker slots and
// is ready workerStartSec after it is asked for. Each tick a ready fleet
// serves up to ready·k/S tasks per second; the rest waits, and the queue wait
// is queue / capacity. Starting workers are paid for (a booting machine is
// billed); a removed worker stops at once (tasks are seconds long). Every
// policy sees the same arrivals (common random numbers), so the differences
// are the policies'.
import { pathToFileURL } from "node:url";
import { createSeededRandom, type RandomSource } from "../../libs/balancing/index.js";
import { configSchema, type Config } from "../../libs/config/index.js";
import { forecastSignal, type ForecastPoint, type Point } from "../../libs/forecasting/index.js";
import {
  decideScale,
  emptyAutoscaleState,
  type AutoscaleState,
  type ScalingSignals,
} from "../../libs/scaling/index.js";
import {
  autoscalePolicyOf,
  hardMaxWorkersOf,
} from "../../services/coordinator/autoscale-policy-config.js";
import { createForecaster } from "../../services/optimizer/forecaster.js";

export const TRACE_NAMES = ["diurnal", "step", "spike", "noisy", "ramp"] as const;
export type TraceName = (typeof TRACE_NAMES)[number] | "constant";
/** predictive-seasonal: the predictive policy with a Holt-Winters daily season in place of the optimizer's short Holt forecast (diurnal only). */
export type PolicyName = "reactive" | "predictive" | "predictive-seasonal";

export interface FleetModel {
  readonly slotsPerWorker: number;
  readonly taskSec: number;
  readonly workerStartSec: number;
  /** A queue wait above this breaks the SLO. */
  readonly sloWaitSec: number;
}

export const DEFAULT_MODEL: FleetModel = {
  slotsPerWorker: 4,
  taskSec: 2,
  workerStartSec: 60,
  sloWaitSec: 2,
};

export interface Trace {
  readonly name: TraceName;
  readonly tickSec: number;
  /** Arrivals per second, one per tick. */
  readonly ratesPerSec: readonly number[];
  /** Figures count from here on (the diurnal trace's first two days teach the season). */
  readonly measureFromSec: number;
  readonly description: string;
}

export interface PolicyOutcome {
  readonly trace: TraceName;
  readonly policy: PolicyName;
  readonly sloViolationMin: number;
  readonly workerHours: number;
  readonly maxWaitSec: number;
  /** Mean |actual − forecast| / actual of the demand forecasts made, against the demand when they came due; undefined for reactive. */
  readonly mape?: number;
  readonly forecastsScored: number;
  readonly scaleUps: number;
  /** Scale-ups the forecast settled (reason PredictiveScaleUp). */
  readonly predictiveScaleUps: number;
  readonly peakWorkers: number;
  readonly finalWorkers: number;
  readonly arrivedTasks: number;
  readonly servedTasks: number;
  readonly queuedTasks: number;
}

/** The coordinator's settings: the defaults (thresholds 0.3/0.8, 300 s down stabilization, 4 workers/100% per 15 s up, 60 s cool-down, 15 s sync) with room for the traces' peaks. */
export function benchConfig(): Config {
  return configSchema.parse({ scaling: { min_workers: 1, max_workers: 50 } });
}

const EPOCH_MS = Date.UTC(2025, 0, 6); // a Monday, 00:00 UTC: the diurnal trace's day starts at midnight
const DAY_SEC = 86_400;
/** The coordinator's lead time before any worker start was measured (autoscaler.ts predictNow). */
const UNMEASURED_START_SEC = 5;
/** Early syncs on a queue come at most this often (autoscaler.ts EARLY_SYNC_GAP_MS). */
const EARLY_SYNC_GAP_SEC = 1;
const SEASON_STEP_SEC = 60;
/** The seasonal variant's own minute series, three days at most: the store's 1-minute tier keeps only a day. */
const SEASON_LOOKBACK_STEPS = 3 * 1440;
const REFIT_SEC = 900;
const EMPTY = 1e-9;
/**
 * The 1 s traces run this long before their figures count: a running
 * optimizer has history, and Holt fitted on a few noisy samples extrapolates
 * wildly (the first minutes of a fresh optimizer are a finding of their own,
 * not what the comparison is about).
 */
const WARM_UP_SEC = 1800;

export function simulatePolicy(options: {
  trace: Trace;
  policy: PolicyName;
  model?: FleetModel;
  config?: Config;
  initialWorkers?: number;
}): PolicyOutcome {
  const { trace, policy } = options;
  const model = options.model ?? DEFAULT_MODEL;
  const config = options.config ?? benchConfig();
  const policyConfig = autoscalePolicyOf(config);
  const target = policyConfig.targets.slotUtilization;
  const hardMaxWorkers = hardMaxWorkersOf(config);
  const { slotsPerWorker: k, taskSec, workerStartSec } = model;
  const dt = trace.tickSec;
  const syncSec = config.scaling.sync_interval_sec;
  const workersFor = (demandSlots: number): number =>
    Math.min(hardMaxWorkers, Math.max(0, Math.ceil(demandSlots / (k * target) - 1e-9)));
  const forecaster =
    policy === "reactive"
      ? undefined
      : createForecaster({
          policy: {
            windowSec: config.optimizer.window_sec,
            minWorkers: config.scaling.min_workers,
            maxWorkers: config.scaling.max_workers,
            scaleUpThreshold: config.scaling.scale_up_threshold,
            scaleDownThreshold: config.scaling.scale_down_threshold,
          },
          hardMaxWorkers,
        });
  const seasonal =
    policy === "predictive-seasonal" ? createSeasonalPredictor(workersFor) : undefined;

  // Sized for the first minute's mean rate: a single noisy tick would start the run off balance.
  const openingRate = mean(trace.ratesPerSec.slice(0, Math.max(1, Math.round(60 / dt))));
  let ready = options.initialWorkers ?? workersFor(openingRate * taskSec);
  /** When each starting worker is ready, oldest first (the loop stops the oldest starting ones first, too). */
  let starting: number[] = [];
  let queue = 0;
  // The run starts in the steady state of its first rate, as if the fleet had been serving it.
  let busy = Math.min(ready * k, openingRate * taskSec);
  let state: AutoscaleState = emptyAutoscaleState();
  let startsCompleted = 0;
  let nextSyncSec = 0;
  let lastEarlySyncSec = -Infinity;
  let previousSync: { atSec: number; arrived: number } | undefined;
  let nextObserveSec = syncSec;
  let observed = { atSec: 0, arrived: 0, served: 0 };
  const totals = {
    arrived: 0,
    served: 0,
    violationSec: 0,
    workerSec: 0,
    maxWaitSec: 0,
    scaleUps: 0,
    predictiveScaleUps: 0,
    peakWorkers: 0,
  };
  const demandByTick = new Float64Array(trace.ratesPerSec.length);
  const forecasts: { atSec: number; value: number }[] = [];

  const sync = (t: number, isRegular: boolean): void => {
    const nowMs = EPOCH_MS + t * 1000;
    const totalSlots = ready * k;
    const elapsedSec = previousSync ? t - previousSync.atSec : 0;
    const signals: ScalingSignals = {
      pendingTasks: queue,
      inFlightTasks: busy,
      ...(totalSlots > 0 ? { slotUtilization: (busy + queue) / totalSlots } : {}),
      ...(previousSync && elapsedSec > 0
        ? { requestRatePerSec: (totals.arrived - previousSync.arrived) / elapsedSec }
        : {}),
    };
    previousSync = { atSec: t, arrived: totals.arrived };
    let prediction: { predictedWorkers: number; isBurstDetected: boolean } | undefined;
    if (forecaster) {
      const leadTimeSec = (startsCompleted > 0 ? workerStartSec : UNMEASURED_START_SEC) + syncSec;
      const recommendation = forecaster.recommend(nowMs, leadTimeSec);
      const atLead = recommendation.forecast?.points.at(-1);
      // No forecast yet: the coordinator's predictor rejects and the loop goes on reactively.
      if (atLead) {
        const own = {
          atSec: (atLead.atMs - EPOCH_MS) / 1000,
          value: atLead.value,
          predictedWorkers: recommendation.predictedWorkers,
        };
        const chosen = seasonal?.predict(nowMs, leadTimeSec) ?? own;
        // Scored once per sync interval: early syncs between two samples ask the same forecast again.
        if (isRegular) forecasts.push({ atSec: chosen.atSec, value: chosen.value });
        prediction = {
          predictedWorkers: chosen.predictedWorkers,
          isBurstDetected: recommendation.isBurstDetected,
        };
      }
    }
    const decision = decideScale({
      nowMs,
      readyWorkers: ready,
      startingWorkers: starting.length,
      signals,
      config: policyConfig,
      state,
      ...(prediction ?? {}),
    });
    state = decision.state;
    // The loop's act(): start the difference, or stop starting workers first, then ready ones.
    const have = ready + starting.length;
    if (decision.desiredWorkers > have) {
      starting = [
        ...starting,
        ...Array.from({ length: decision.desiredWorkers - have }, () => t + workerStartSec),
      ];
      totals.scaleUps += 1;
      if (decision.reason === "PredictiveScaleUp") totals.predictiveScaleUps += 1;
    } else if (decision.desiredWorkers < have) {
      const excess = have - decision.desiredWorkers;
      const cut = Math.min(excess, starting.length);
      starting = starting.slice(cut);
      ready -= excess - cut;
    }
  };

  for (let i = 0; i < trace.ratesPerSec.length; i += 1) {
    const t = i * dt;
    while (starting.length > 0 && (starting[0] as number) <= t) {
      starting = starting.slice(1);
      ready += 1;
      startsCompleted += 1;
    }
    demandByTick[i] = busy + queue;

    // The coordinator's load reporter: one sample every sync interval, rates averaged since the last one.
    if (forecaster && t >= nextObserveSec) {
      const elapsedSec = t - observed.atSec;
      const record = {
        observedAtMs: EPOCH_MS + t * 1000,
        workers: ready,
        totalSlots: ready * k,
        busySlots: Math.min(busy, ready * k),
        pendingTasks: queue,
        meanCpuUtilization: ready > 0 ? busy / (ready * k) : 0,
        arrivalRatePerSec: (totals.arrived - observed.arrived) / elapsedSec,
        completionRatePerSec: (totals.served - observed.served) / elapsedSec,
      };
      forecaster.observe(record);
      seasonal?.observe(record.observedAtMs, record.busySlots + record.pendingTasks);
      observed = { atSec: t, arrived: totals.arrived, served: totals.served };
      nextObserveSec += syncSec;
    }
    if (t >= nextSyncSec) {
      nextSyncSec += syncSec;
      sync(t, true);
    } else if (queue > EMPTY && t - lastEarlySyncSec >= EARLY_SYNC_GAP_SEC) {
      // Tasks queuing mean the fleet is full now: the loop looks again early (source.onQueued).
      lastEarlySyncSec = t;
      sync(t, false);
    }

    const arrivals = (trace.ratesPerSec[i] as number) * dt;
    const capacityPerSec = (ready * k) / taskSec;
    const served = Math.min(capacityPerSec * dt, queue + arrivals);
    queue = Math.max(0, queue + arrivals - served);
    busy = Math.min(ready * k, (served * taskSec) / dt);
    totals.arrived += arrivals;
    totals.served += served;
    if (t < trace.measureFromSec) continue;
    const waitSec = queue <= EMPTY ? 0 : capacityPerSec > 0 ? queue / capacityPerSec : Infinity;
    if (waitSec > model.sloWaitSec) totals.violationSec += dt;
    totals.maxWaitSec = Math.max(totals.maxWaitSec, waitSec);
    totals.workerSec += (ready + starting.length) * dt;
    totals.peakWorkers = Math.max(totals.peakWorkers, ready + starting.length);
  }

  const scored = scoreForecasts(forecasts, demandByTick, trace);
  return {
    trace: trace.name,
    policy,
    sloViolationMin: totals.violationSec / 60,
    workerHours: totals.workerSec / 3600,
    maxWaitSec: totals.maxWaitSec,
    ...(forecaster && scored.mape !== undefined ? { mape: scored.mape } : {}),
    forecastsScored: scored.count,
    scaleUps: totals.scaleUps,
    predictiveScaleUps: totals.predictiveScaleUps,
    peakWorkers: totals.peakWorkers,
    finalWorkers: ready + starting.length,
    arrivedTasks: totals.arrived,
    servedTasks: totals.served,
    queuedTasks: queue,
  };
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((sum, v) => sum + v, 0) / values.length;
}

/** Each forecast against the demand (busy + pending slots) at the tick it was for; those due after the run or before the measured part are left out. */
function scoreForecasts(
  forecasts: readonly { atSec: number; value: number }[],
  demandByTick: Float64Array,
  trace: Trace,
): { mape?: number; count: number } {
  let total = 0;
  let count = 0;
  for (const forecast of forecasts) {
    const index = Math.round(forecast.atSec / trace.tickSec);
    if (forecast.atSec < trace.measureFromSec || index >= demandByTick.length) continue;
    const actual = demandByTick[index] as number;
    if (actual <= EMPTY) continue;
    total += Math.abs(actual - forecast.value) / actual;
    count += 1;
  }
  return count > 0 ? { mape: total / count, count } : { count };
}

/**
 * Holt-Winters with a daily season over minute means of the demand the
 * optimizer is fed, once two days are held (before that the optimizer's own
 * answer stands). Refitted every REFIT_SEC over a horizon reaching past the
 * next refit, as a capacity plan would be; a sync reads the point one lead
 * time ahead. A fit over three days of minutes takes ~40 ms: refitting every
 * minute would take about a minute of the bench's time for one row.
 */
function createSeasonalPredictor(workersFor: (demandSlots: number) => number) {
  const minutes: Point[] = [];
  let current: { startMs: number; sum: number; count: number } | undefined;
  let fitted: { refitIndex: number; points: readonly ForecastPoint[] } | undefined;
  const stepMs = SEASON_STEP_SEC * 1000;
  const seasonSteps = DAY_SEC / SEASON_STEP_SEC;
  return {
    observe(atMs: number, demand: number): void {
      const startMs = Math.floor(atMs / stepMs) * stepMs;
      if (current && current.startMs !== startMs) {
        minutes.push({ atMs: current.startMs, value: current.sum / current.count });
        if (minutes.length > SEASON_LOOKBACK_STEPS) minutes.shift();
        current = undefined;
      }
      current = current
        ? { ...current, sum: current.sum + demand, count: current.count + 1 }
        : { startMs, sum: demand, count: 1 };
    },
    predict(
      nowMs: number,
      leadTimeSec: number,
    ): { atSec: number; value: number; predictedWorkers: number } | undefined {
      if (minutes.length < 2 * seasonSteps) return undefined;
      const refitIndex = Math.floor(nowMs / (REFIT_SEC * 1000));
      if (fitted?.refitIndex !== refitIndex) {
        const horizonSteps = Math.ceil((REFIT_SEC + leadTimeSec) / SEASON_STEP_SEC) + 1;
        const forecast = forecastSignal(minutes, {
          stepSec: SEASON_STEP_SEC,
          horizonSteps,
          confidence: 0.8,
          seasonLengthSteps: seasonSteps,
          nowMs,
        });
        fitted = { refitIndex, points: forecast.points };
      }
      const dueMs = nowMs + leadTimeSec * 1000;
      const atLead = fitted.points.find((p) => p.atMs >= dueMs) ?? fitted.points.at(-1);
      if (atLead === undefined) return undefined;
      return {
        atSec: (atLead.atMs - EPOCH_MS) / 1000,
        value: atLead.value,
        predictedWorkers: workersFor(atLead.value),
      };
    },
  };
}

// ---------------------------------------------------------------- traces

export function constantTrace(ratePerSec: number, durationSec: number): Trace {
  return {
    name: "constant",
    tickSec: 1,
    ratesPerSec: new Array<number>(durationSec).fill(ratePerSec),
    measureFromSec: 0,
    description: `constant ${ratePerSec}/s`,
  };
}

/** Each trace draws from its own stream of the seed, so adding a trace changes no other. */
export function buildTrace(name: (typeof TRACE_NAMES)[number], seed: number): Trace {
  const random = createSeededRandom(seed * 7919 + TRACE_NAMES.indexOf(name) + 1);
  const hour = 3600;
  switch (name) {
    case "diurnal": {
      // A sine-like day from 2/s at 04:00 to 24/s at 16:00; three days at 5 s ticks, the third measured.
      const tickSec = 5;
      const noise = arNoise(random, {
        count: (3 * DAY_SEC) / tickSec,
        tickSec,
        sigma: 0.1,
        tauSec: 60,
      });
      const rates = noise.map(
        (n, i) =>
          (2 + (22 * (1 - Math.cos((2 * Math.PI * (i * tickSec - 4 * hour)) / DAY_SEC))) / 2) * n,
      );
      return {
        name,
        tickSec,
        ratesPerSec: rates,
        measureFromSec: 2 * DAY_SEC,
        description:
          "2 → 24/s over a day (trough 04:00, peak 16:00), 10% noise; 3 days at 5 s ticks, day 3 measured",
      };
    }
    case "step":
      return steadyTrace(name, random, {
        sigma: 0.05,
        tauSec: 10,
        shape: (t) => (t < hour ? 10 : 40),
        description:
          "10/s, ×4 to 40/s at 60 min; 5% noise; 2.5 h at 1 s ticks, the last 2 h measured",
      });
    case "spike":
      return steadyTrace(name, random, {
        sigma: 0.05,
        tauSec: 10,
        shape: (t) => (t >= hour && t < hour + 600 ? 50 : 10),
        description:
          "10/s with a 10-minute ×5 spike at 60 min; 5% noise; 2.5 h at 1 s ticks, the last 2 h measured",
      });
    case "noisy":
      return steadyTrace(name, random, {
        sigma: 0.5,
        tauSec: 30,
        shape: () => 10,
        description:
          "10/s with 50% log-normal noise correlated over ~30 s; 2.5 h at 1 s ticks, the last 2 h measured",
      });
    case "ramp":
      // The case forecasts exist for: a steady climb a worker's start time cannot keep up with reactively.
      return steadyTrace(name, random, {
        sigma: 0.05,
        tauSec: 10,
        shape: (t) => (t < hour ? 10 : t < hour + 300 ? 10 + (50 * (t - hour)) / 300 : 60),
        description:
          "10/s, climbing steadily to 60/s over 5 min from 60 min; 5% noise; 2.5 h at 1 s ticks, the last 2 h measured",
      });
    default: {
      const unknown: never = name;
      throw new RangeError(`unknown trace ${String(unknown)}`);
    }
  }
}

function steadyTrace(
  name: TraceName,
  random: RandomSource,
  o: { sigma: number; tauSec: number; shape: (tSec: number) => number; description: string },
): Trace {
  const durationSec = 2.5 * 3600;
  const noise = arNoise(random, {
    count: durationSec,
    tickSec: 1,
    sigma: o.sigma,
    tauSec: o.tauSec,
  });
  return {
    name,
    tickSec: 1,
    ratesPerSec: noise.map((n, t) => o.shape(t) * n),
    measureFromSec: WARM_UP_SEC,
    description: o.description,
  };
}

/** Multiplicative noise with mean 1: exp of an AR(1) process with stationary σ and correlation time τ, less σ²/2. */
function arNoise(
  random: RandomSource,
  o: { count: number; tickSec: number; sigma: number; tauSec: number },
): number[] {
  const rho = Math.exp(-o.tickSec / o.tauSec);
  let x = o.sigma * gaussian(random);
  return Array.from({ length: o.count }, () => {
    x = rho * x + Math.sqrt(1 - rho * rho) * o.sigma * gaussian(random);
    return Math.exp(x - (o.sigma * o.sigma) / 2);
  });
}

/** Box-Muller, one draw of two uniforms. */
function gaussian(random: RandomSource): number {
  const u = Math.max(random(), Number.MIN_VALUE);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

// ---------------------------------------------------------------- the bench

export interface PredictiveSimulationOptions {
  readonly seed?: number;
  readonly traces?: readonly (typeof TRACE_NAMES)[number][];
  readonly model?: FleetModel;
  /** Progress, one line per run (the bench sends it to stderr). */
  readonly progress?: (line: string) => void;
}

export interface PredictiveSimulationResult {
  readonly seed: number;
  readonly model: FleetModel;
  readonly traces: readonly { readonly name: TraceName; readonly description: string }[];
  readonly outcomes: readonly PolicyOutcome[];
}

export function runPredictiveSimulation(
  options: PredictiveSimulationOptions = {},
): PredictiveSimulationResult {
  const seed = options.seed ?? 1;
  const model = options.model ?? DEFAULT_MODEL;
  const traces = (options.traces ?? TRACE_NAMES).map((name) => buildTrace(name, seed));
  const outcomes: PolicyOutcome[] = [];
  for (const trace of traces) {
    const policies: PolicyName[] =
      trace.name === "diurnal"
        ? ["reactive", "predictive", "predictive-seasonal"]
        : ["reactive", "predictive"];
    for (const policy of policies) {
      const startedMs = performance.now();
      outcomes.push(simulatePolicy({ trace, policy, model }));
      options.progress?.(
        `forecast: ${trace.name} / ${policy} simulated in ${((performance.now() - startedMs) / 1000).toFixed(1)} s`,
      );
    }
  }
  return {
    seed,
    model,
    traces: traces.map((t) => ({ name: t.name, description: t.description })),
    outcomes,
  };
}

export function formatPredictiveReport(result: PredictiveSimulationResult): string {
  const m = result.model;
  const config = benchConfig();
  const lines = [
    `Predictive vs reactive scaling (simulated time, seed ${result.seed}): tasks of ${m.taskSec} s, ${m.slotsPerWorker} slots per worker, workers ready ${m.workerStartSec} s after the ask; ` +
      `SLO: queue wait ≤ ${m.sloWaitSec} s; coordinator defaults (target utilization ${autoscalePolicyOf(config).targets.slotUtilization.toFixed(2)}, sync ${config.scaling.sync_interval_sec} s, ` +
      `max_workers ${config.scaling.max_workers}); predictive = the optimizer's forecaster, lead time = measured start + one sync.`,
    "",
    ...result.traces.map((t) => `- ${t.name}: ${t.description}`),
    "",
    "| trace | policy | SLO-violation min | worker-hours | ratio vs reactive | MAPE | max queue wait | ahead-of-load scale-ups |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const o of result.outcomes) {
    const reactive = result.outcomes.find((r) => r.trace === o.trace && r.policy === "reactive");
    const ratio =
      reactive && o.policy !== "reactive"
        ? `${(o.workerHours / reactive.workerHours).toFixed(3)}`
        : "—";
    const mape = o.mape === undefined ? "—" : `${(o.mape * 100).toFixed(1)} %`;
    const wait = Number.isFinite(o.maxWaitSec)
      ? `${o.maxWaitSec.toFixed(1)} s`
      : "∞ (no ready worker)";
    lines.push(
      `| ${o.trace} | ${o.policy} | ${o.sloViolationMin.toFixed(1)} | ${o.workerHours.toFixed(1)} | ${ratio} | ${mape} | ${wait} | ${o.predictiveScaleUps} |`,
    );
  }
  lines.push(
    "",
    "(MAPE: the demand forecasts the run made, one lead time ahead, against the demand (busy + pending slots) when they came due. " +
      "predictive-seasonal: Holt-Winters with a daily season over minute means, what the optimizer's recommendation would give if it used its seasonal model.)",
  );
  return lines.join("\n");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = performance.now();
  const result = runPredictiveSimulation({ progress: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${formatPredictiveReport(result)}\n`);
  process.stderr.write(`(${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
}
