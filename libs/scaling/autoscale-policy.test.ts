import { describe, expect, it } from "vitest";
import { decideScale, emptyAutoscaleState } from "./autoscale-policy.js";
import type {
  AutoscaleConfig,
  AutoscaleDecision,
  AutoscaleInput,
  AutoscaleReason,
  AutoscaleState,
  DirectionBehavior,
  ScalingSignals,
} from "./autoscale-types.js";

const NOW_MS = 1_700_000_000_000;
const SEC = 1000;

/** HPA-like defaults: react up at once, down after 300 s, no rate policies, no cool-down; bursts to 15 for 300 s. */
function config(overrides: Partial<AutoscaleConfig> = {}): AutoscaleConfig {
  return {
    minWorkers: 1,
    maxWorkers: 10,
    targets: { slotUtilization: 0.55 },
    up: behavior({ stabilizationSec: 0 }),
    down: behavior({ stabilizationSec: 0 }),
    coolDownSec: 0,
    burstFactor: 1.5,
    maxBurstDurationSec: 300,
    hardMaxWorkers: 15,
    allowScaleToZero: false,
    ...overrides,
  };
}

function behavior(overrides: Partial<DirectionBehavior> = {}): DirectionBehavior {
  return { stabilizationSec: 0, tolerance: 0.1, policies: [], select: "max", ...overrides };
}

interface InputOptions {
  readonly ready?: number;
  readonly starting?: number;
  readonly signals?: Partial<ScalingSignals>;
  readonly config?: Partial<AutoscaleConfig>;
  readonly state?: Partial<AutoscaleState>;
  readonly isBurstDetected?: boolean;
}

function input(options: InputOptions): AutoscaleInput {
  return {
    nowMs: NOW_MS,
    readyWorkers: options.ready ?? 4,
    startingWorkers: options.starting ?? 0,
    signals: { pendingTasks: 0, inFlightTasks: 1, ...options.signals },
    config: config(options.config),
    state: { ...emptyAutoscaleState(), ...options.state },
    ...(options.isBurstDetected !== undefined ? { isBurstDetected: options.isBurstDetected } : {}),
  };
}

/** A raw recommendation `ageSec` before now. */
function recommendation(ageSec: number, workers: number): { atMs: number; workers: number } {
  return { atMs: NOW_MS - ageSec * SEC, workers };
}

interface Case {
  readonly name: string;
  readonly input: AutoscaleInput;
  readonly desired: number;
  readonly reason: AutoscaleReason;
  readonly raw?: number;
  readonly mode?: AutoscaleDecision["mode"];
  /** The whole message, or a part of it. */
  readonly message?: string;
  readonly messageIncludes?: string;
}

function expectDecision(decision: AutoscaleDecision, c: Case): void {
  expect({ desired: decision.desiredWorkers, reason: decision.reason }).toEqual({
    desired: c.desired,
    reason: c.reason,
  });
  if (c.raw !== undefined) expect(decision.rawDesiredWorkers).toBe(c.raw);
  expect(decision.mode).toBe(c.mode ?? "normal");
  if (c.message !== undefined) expect(decision.message).toBe(c.message);
  if (c.messageIncludes !== undefined) expect(decision.message).toContain(c.messageIncludes);
}

describe("decideScale: one case per reason", () => {
  const cases: Case[] = [
    {
      name: "scales up by the ratio rule",
      // ceil(4 × 0.92 / 0.55) = ceil(6.69) = 7
      input: input({ signals: { slotUtilization: 0.92 } }),
      desired: 7,
      raw: 7,
      reason: "ScaleUp",
      message: "slot utilization 0.92 is above target 0.55 (tolerance 0.10): 4 ready workers → 7",
    },
    {
      name: "keeps the count inside the tolerance",
      input: input({ signals: { slotUtilization: 0.6 } }),
      desired: 4,
      reason: "WithinTolerance",
      message:
        "slot utilization 0.60 is within target 0.55 (tolerance 0.10): keeping 4 ready workers",
    },
    {
      name: "scales down by the ratio rule once the down window allows",
      // ceil(10 × 0.1 / 0.55) = ceil(1.82) = 2
      input: input({ ready: 10, signals: { slotUtilization: 0.1 } }),
      desired: 2,
      reason: "ScaleDown",
      messageIncludes:
        "slot utilization 0.10 is below target 0.55 (tolerance 0.10): 10 ready workers → 2",
    },
    {
      name: "holds a scale-down at the highest recommendation of the down window",
      input: input({
        ready: 10,
        signals: { slotUtilization: 0.1 },
        config: { down: behavior({ stabilizationSec: 300 }) },
        state: {
          recommendations: [
            recommendation(290, 8),
            recommendation(400, 10),
            recommendation(100, 6),
          ],
        },
      }),
      desired: 8,
      raw: 2,
      reason: "ScaleDownStabilized",
      messageIncludes:
        "; held at 8 by the highest recommendation (8) of the last 300 s (scale_down_stabilization_sec)",
    },
    {
      name: "holds a scale-up at the lowest recommendation of the up window",
      input: input({
        signals: { slotUtilization: 0.92 },
        config: { up: behavior({ stabilizationSec: 60 }) },
        state: { recommendations: [recommendation(30, 5), recommendation(90, 4)] },
      }),
      desired: 5,
      raw: 7,
      reason: "ScaleUpStabilized",
      messageIncludes:
        "; held at 5 by the lowest recommendation (5) of the last 60 s (scale_up_stabilization_sec)",
    },
    {
      name: "limits a scale-up by the rate policy",
      input: input({
        signals: { slotUtilization: 0.92 },
        config: { up: behavior({ policies: [{ kind: "workers", value: 2, periodSec: 60 }] }) },
      }),
      desired: 6,
      raw: 7,
      reason: "ScaleUpLimited",
      message:
        "slot utilization 0.92 is above target 0.55 (tolerance 0.10): 4 ready workers → 7; limited to 6 by 2 workers per 60 s",
    },
    {
      name: "limits a scale-down by the rate policy",
      input: input({
        ready: 10,
        signals: { slotUtilization: 0.1 },
        config: { down: behavior({ policies: [{ kind: "percent", value: 50, periodSec: 60 }] }) },
      }),
      desired: 5,
      reason: "ScaleDownLimited",
      messageIncludes: "; limited to 5 by 50% per 60 s",
    },
    {
      name: "does not scale in a disabled direction",
      input: input({
        signals: { slotUtilization: 0.92 },
        config: { up: behavior({ select: "disabled" }) },
      }),
      desired: 4,
      reason: "DirectionDisabled",
      messageIncludes: "; scale-up is disabled (select disabled): keeping 4 workers",
    },
    {
      name: "holds a scale-down during the cool-down after a scale action",
      input: input({
        ready: 10,
        signals: { slotUtilization: 0.1 },
        config: { coolDownSec: 60 },
        state: { lastScaleAtMs: NOW_MS - 20 * SEC },
      }),
      desired: 10,
      reason: "CoolingDown",
      messageIncludes: "; held at 10 for cool_down_sec 60 (last scale action 20 s ago)",
    },
    {
      name: "keeps min_workers",
      input: input({ signals: { slotUtilization: 0.05 }, config: { minWorkers: 3 } }),
      desired: 3,
      raw: 1,
      reason: "AtMinimum",
      messageIncludes: "; held at min_workers 3",
    },
    {
      name: "keeps max_workers when bursting is off",
      // ceil(8 × 0.9 / 0.55) = 14
      input: input({ ready: 8, signals: { slotUtilization: 0.9 }, config: { burstFactor: 1 } }),
      desired: 10,
      raw: 14,
      reason: "AtMaximum",
      messageIncludes: "; held at max_workers 10",
    },
    {
      name: "starts a burst when the demand is above max_workers",
      input: input({ ready: 8, signals: { slotUtilization: 0.9 } }),
      desired: 14,
      reason: "BurstStarted",
      mode: "burst",
      messageIncludes:
        "; demand 14 is above max_workers 10: burst mode allows up to 15 (burst_factor 1.5) for 300 s",
    },
    {
      name: "starts a burst when the optimizer detects one, before the demand outgrows max_workers",
      input: input({ signals: { slotUtilization: 0.6 }, isBurstDetected: true }),
      desired: 4,
      reason: "BurstStarted",
      mode: "burst",
      messageIncludes: "the optimizer detected a burst",
    },
    {
      name: "holds a burst at its ceiling",
      input: input({
        ready: 14,
        signals: { slotUtilization: 0.9 },
        state: { burstStartedAtMs: NOW_MS - 60 * SEC },
      }),
      desired: 15,
      reason: "AtMaximum",
      mode: "burst",
      messageIncludes: "; held at the burst ceiling 15 (max_workers 10 × burst_factor 1.5)",
    },
    {
      name: "never goes above hard_max_workers, bursts included",
      input: input({ ready: 8, signals: { slotUtilization: 0.9 }, config: { hardMaxWorkers: 12 } }),
      desired: 12,
      reason: "AtHardMaximum",
      mode: "burst",
      messageIncludes: "; held at hard_max_workers 12",
    },
    {
      name: "ends a burst on time and goes back to max_workers at once, through the down window and the cool-down",
      input: input({
        ready: 15,
        signals: { slotUtilization: 0.6 },
        config: {
          coolDownSec: 600,
          down: behavior({
            stabilizationSec: 300,
            policies: [{ kind: "workers", value: 1, periodSec: 60 }],
          }),
        },
        state: {
          burstStartedAtMs: NOW_MS - 300 * SEC,
          lastScaleAtMs: NOW_MS - 15 * SEC,
          recommendations: [recommendation(15, 15)],
        },
      }),
      desired: 10,
      reason: "BurstEnded",
      messageIncludes: "; back to max_workers 10 at once",
    },
    {
      name: "scales to zero an idle fleet when allowed",
      input: input({
        ready: 2,
        signals: { slotUtilization: 0, inFlightTasks: 0 },
        config: { minWorkers: 0, allowScaleToZero: true },
      }),
      desired: 0,
      reason: "ScaleToZero",
      mode: "zero",
      messageIncludes: "; scaling to zero (scale_to_zero)",
    },
    {
      name: "wakes an empty fleet on the first pending task",
      input: input({
        ready: 0,
        signals: { pendingTasks: 1, inFlightTasks: 0 },
        config: { minWorkers: 0, allowScaleToZero: true },
      }),
      desired: 1,
      reason: "WakeFromZero",
      message: "no workers with 1 pending task and 0 in flight: waking 1 worker",
    },
    {
      name: "holds while new workers are starting",
      input: input({ ready: 4, starting: 2, signals: { slotUtilization: 0.92 } }),
      desired: 6,
      raw: 7,
      reason: "WaitingForNewWorkers",
      messageIncludes: "; 2 workers still starting: holding at 6 until they are ready",
    },
  ];

  for (const c of cases) {
    it(c.name, () => expectDecision(decideScale(c.input), c));
  }

  it("covers every reason of the contract", () => {
    const all: AutoscaleReason[] = [
      "ScaleUp",
      "ScaleDown",
      "WithinTolerance",
      "WaitingForNewWorkers",
      "ScaleUpStabilized",
      "ScaleDownStabilized",
      "ScaleUpLimited",
      "ScaleDownLimited",
      "CoolingDown",
      "AtMinimum",
      "AtMaximum",
      "AtHardMaximum",
      "BurstStarted",
      "BurstEnded",
      "ScaleToZero",
      "WakeFromZero",
      "DirectionDisabled",
    ];
    expect(new Set(cases.map((c) => c.reason))).toEqual(new Set(all));
  });
});

describe("decideScale: signals", () => {
  const cases: Case[] = [
    {
      name: "follows the signal asking for the most workers",
      // slots: ceil(4 × 0.6 / 0.55) is inside the tolerance → 4; CPU: ceil(4 × 0.9 / 0.5) = 8
      input: input({
        signals: { slotUtilization: 0.6, cpuUtilization: 0.9 },
        config: { targets: { slotUtilization: 0.55, cpuUtilization: 0.5 } },
      }),
      desired: 8,
      reason: "ScaleUp",
      message:
        "CPU utilization 0.90 is above target 0.50 (tolerance 0.10): 4 ready workers → 8 (the highest of 2 signals)",
    },
    {
      name: "scales on queue depth over the per-worker target (KEDA)",
      input: input({
        signals: { slotUtilization: 0.6, pendingTasks: 20 },
        config: { targets: { slotUtilization: 0.55, pendingTasksPerWorker: 2 } },
      }),
      desired: 10,
      reason: "ScaleUp",
      messageIncludes:
        "pending tasks 20 (5.00 per ready worker) is above target 2 per worker (tolerance 0.10): 4 ready workers → 10",
    },
    {
      name: "scales on the arrival rate over the per-worker rate",
      input: input({
        signals: { requestRatePerSec: 45 },
        config: { targets: { slotUtilization: 0.55, requestRatePerWorkerPerSec: 5 } },
      }),
      desired: 9,
      reason: "ScaleUp",
      messageIncludes:
        "request rate 45.0/s (11.25/s per ready worker) is above target 5.0/s per worker",
    },
    {
      name: "never proposes zero workers while tasks are in flight",
      input: input({
        signals: { cpuUtilization: 0, inFlightTasks: 3 },
        config: {
          minWorkers: 0,
          allowScaleToZero: true,
          targets: { slotUtilization: 0.55, cpuUtilization: 0.5 },
        },
      }),
      desired: 1,
      raw: 1,
      reason: "ScaleDown",
    },
    {
      name: "keeps the count when no signal was measured",
      input: input({ signals: {} }),
      desired: 4,
      reason: "WithinTolerance",
      message: "no signal measured: keeping 4 ready workers",
    },
    {
      name: "uses separate tolerances per direction",
      // ratio 0.8: outside a 0.1 tolerance, inside a 0.25 one
      input: input({
        signals: { slotUtilization: 0.44 },
        config: { down: behavior({ tolerance: 0.25 }) },
      }),
      desired: 4,
      reason: "WithinTolerance",
      messageIncludes: "(tolerance 0.25 down, 0.10 up)",
    },
  ];
  for (const c of cases) {
    it(c.name, () => expectDecision(decideScale(c.input), c));
  }
});

describe("decideScale: zero workers", () => {
  const zeroConfig: Partial<AutoscaleConfig> = { minWorkers: 0, allowScaleToZero: true };
  const cases: Case[] = [
    {
      name: "wakes to enough workers for the queue at once, whatever the down window and cool-down",
      input: input({
        ready: 0,
        signals: { pendingTasks: 7, inFlightTasks: 0 },
        config: {
          ...zeroConfig,
          coolDownSec: 600,
          up: behavior({ stabilizationSec: 120 }),
          targets: { slotUtilization: 0.55, pendingTasksPerWorker: 2 },
        },
        state: {
          lastScaleAtMs: NOW_MS - 10 * SEC,
          recommendations: [recommendation(60, 0), recommendation(15, 0)],
        },
      }),
      desired: 4,
      raw: 4,
      reason: "WakeFromZero",
      message:
        "no workers with 7 pending tasks and 0 in flight: waking 4 workers for 2 pending per worker",
    },
    {
      name: "wakes to min_workers when that is more",
      input: input({
        ready: 0,
        signals: { pendingTasks: 1, inFlightTasks: 0 },
        config: { minWorkers: 3 },
      }),
      desired: 3,
      reason: "WakeFromZero",
    },
    {
      name: "paces a big wake by the up policies, beyond the first worker",
      input: input({
        ready: 0,
        signals: { pendingTasks: 20, inFlightTasks: 0 },
        config: {
          ...zeroConfig,
          up: behavior({ policies: [{ kind: "workers", value: 4, periodSec: 15 }] }),
          targets: { slotUtilization: 0.55, pendingTasksPerWorker: 2 },
        },
      }),
      desired: 4,
      raw: 10,
      reason: "ScaleUpLimited",
    },
    {
      name: "still wakes one worker when only a percent policy applies (a percent of zero is zero)",
      input: input({
        ready: 0,
        signals: { pendingTasks: 5, inFlightTasks: 0 },
        config: {
          ...zeroConfig,
          up: behavior({ policies: [{ kind: "percent", value: 100, periodSec: 15 }] }),
        },
      }),
      desired: 1,
      reason: "WakeFromZero",
    },
    {
      name: "still wakes one worker when scale-up is disabled",
      input: input({
        ready: 0,
        signals: { pendingTasks: 5, inFlightTasks: 0 },
        config: {
          ...zeroConfig,
          up: behavior({ select: "disabled" }),
          targets: { slotUtilization: 0.55, pendingTasksPerWorker: 1 },
        },
      }),
      desired: 1,
      raw: 5,
      reason: "DirectionDisabled",
    },
    {
      name: "does not wake again while the first workers are starting",
      input: input({
        ready: 0,
        starting: 1,
        signals: { pendingTasks: 6, inFlightTasks: 0 },
        config: { ...zeroConfig, targets: { slotUtilization: 0.55, pendingTasksPerWorker: 2 } },
      }),
      desired: 1,
      raw: 3,
      reason: "WaitingForNewWorkers",
    },
    {
      name: "stays at zero with nothing to do",
      input: input({ ready: 0, signals: { inFlightTasks: 0 }, config: zeroConfig }),
      desired: 0,
      reason: "AtMinimum",
      mode: "zero",
      message: "no workers and no tasks: keeping 0 workers",
    },
    {
      name: "starts min_workers from nothing",
      input: input({ ready: 0, signals: { inFlightTasks: 0 }, config: { minWorkers: 2 } }),
      desired: 2,
      reason: "AtMinimum",
    },
    {
      name: "keeps one worker when min_workers is 0 but scale_to_zero is off",
      input: input({
        ready: 2,
        signals: { slotUtilization: 0, inFlightTasks: 0 },
        config: { minWorkers: 0, allowScaleToZero: false },
      }),
      desired: 1,
      reason: "AtMinimum",
      messageIncludes: "; held at 1: min_workers is 0 but scale_to_zero is off",
    },
    {
      name: "goes to zero only after a down window of zero load",
      input: input({
        ready: 2,
        signals: { slotUtilization: 0, inFlightTasks: 0 },
        config: { ...zeroConfig, down: behavior({ stabilizationSec: 300 }) },
        state: { recommendations: [recommendation(200, 1)] },
      }),
      desired: 1,
      reason: "ScaleDownStabilized",
    },
  ];
  for (const c of cases) {
    it(c.name, () => expectDecision(decideScale(c.input), c));
  }
});

describe("decideScale: burst episodes", () => {
  it("does not start a spent burst while the demand stays above max_workers, and forgives it once the demand fits", () => {
    const spent = input({
      ready: 10,
      signals: { slotUtilization: 0.9 },
      state: { isBurstSpent: true },
    });
    const held = decideScale(spent);
    expect(held).toMatchObject({ desiredWorkers: 10, reason: "AtMaximum", mode: "normal" });
    expect(held.state.isBurstSpent).toBe(true);

    const fits = decideScale(
      input({ ready: 10, signals: { slotUtilization: 0.5 }, state: { isBurstSpent: true } }),
    );
    expect(fits.state.isBurstSpent).toBeUndefined();
  });

  it("stays spent while the optimizer still sees a burst", () => {
    const decision = decideScale(
      input({
        ready: 10,
        signals: { slotUtilization: 0.5 },
        state: { isBurstSpent: true },
        isBurstDetected: true,
      }),
    );
    expect(decision.state.isBurstSpent).toBe(true);
    expect(decision.mode).toBe("normal");
  });

  it("marks the burst spent when it ends, even when the demand still fits within it", () => {
    const decision = decideScale(
      input({
        ready: 14,
        signals: { slotUtilization: 0.55 },
        state: { burstStartedAtMs: NOW_MS - 301 * SEC },
      }),
    );
    expect(decision).toMatchObject({ desiredWorkers: 10, reason: "BurstEnded", mode: "normal" });
    expect(decision.state).toMatchObject({ isBurstSpent: true });
    expect(decision.state.burstStartedAtMs).toBeUndefined();
  });

  it("keeps the episode's start while it lasts", () => {
    const startedAtMs = NOW_MS - 100 * SEC;
    const decision = decideScale(
      input({
        ready: 12,
        signals: { slotUtilization: 0.55 },
        state: { burstStartedAtMs: startedAtMs },
      }),
    );
    expect(decision.mode).toBe("burst");
    expect(decision.state.burstStartedAtMs).toBe(startedAtMs);
  });

  it("cuts through the hold for starting workers when the burst ends", () => {
    const decision = decideScale(
      input({
        ready: 12,
        starting: 3,
        signals: { slotUtilization: 0.9 },
        state: { burstStartedAtMs: NOW_MS - 300 * SEC },
      }),
    );
    expect(decision).toMatchObject({ desiredWorkers: 10, reason: "BurstEnded" });
  });
});

describe("decideScale: the state it hands on", () => {
  it("records no event while a hold keeps ready + starting", () => {
    // ceil(4 × 0.3 / 0.55) = 3, held at 4 + 1 while one worker starts
    const decision = decideScale(
      input({
        ready: 4,
        starting: 1,
        signals: { slotUtilization: 0.3 },
        state: { lastScaleAtMs: NOW_MS - 999 * SEC },
      }),
    );
    expect(decision).toMatchObject({ desiredWorkers: 5, reason: "WaitingForNewWorkers" });
    expect(decision.state.events).toEqual([]);
    expect(decision.state.lastScaleAtMs).toBe(NOW_MS - 999 * SEC);
  });

  it("records a scale-up from ready + starting and sets lastScaleAtMs", () => {
    const decision = decideScale(input({ ready: 4, signals: { slotUtilization: 0.92 } }));
    expect(decision.state.events).toEqual([{ atMs: NOW_MS, fromWorkers: 4, toWorkers: 7 }]);
    expect(decision.state.lastScaleAtMs).toBe(NOW_MS);
  });

  it("records nothing and keeps the last action's time when the count stays", () => {
    const decision = decideScale(
      input({ signals: { slotUtilization: 0.55 }, state: { lastScaleAtMs: NOW_MS - 50 * SEC } }),
    );
    expect(decision.state.events).toEqual([]);
    expect(decision.state.lastScaleAtMs).toBe(NOW_MS - 50 * SEC);
  });

  it("keeps only the recommendations of the longest window, plus this one", () => {
    const decision = decideScale(
      input({
        signals: { slotUtilization: 0.55 },
        config: {
          up: behavior({ stabilizationSec: 60 }),
          down: behavior({ stabilizationSec: 300 }),
        },
        state: {
          recommendations: [recommendation(400, 9), recommendation(300, 8), recommendation(299, 7)],
        },
      }),
    );
    expect(decision.state.recommendations).toEqual([
      recommendation(299, 7),
      { atMs: NOW_MS, workers: 4 },
    ]);
  });

  it("keeps only the events of the longest policy period", () => {
    const policies = [{ kind: "workers", value: 10, periodSec: 60 }] as const;
    const old = { atMs: NOW_MS - 60 * SEC, fromWorkers: 2, toWorkers: 3 };
    const recent = { atMs: NOW_MS - 59 * SEC, fromWorkers: 3, toWorkers: 4 };
    const decision = decideScale(
      input({
        signals: { slotUtilization: 0.55 },
        config: { up: behavior({ policies }) },
        state: { events: [old, recent] },
      }),
    );
    expect(decision.state.events).toEqual([recent]);
  });

  it("reports each signal's proposal", () => {
    const decision = decideScale(
      input({
        signals: { slotUtilization: 0.92, cpuUtilization: 0.2 },
        config: { targets: { slotUtilization: 0.55, cpuUtilization: 0.5 } },
      }),
    );
    expect(decision.proposals).toEqual([
      { signal: "slotUtilization", value: 0.92, target: 0.55, workers: 7 },
      { signal: "cpuUtilization", value: 0.2, target: 0.5, workers: 2 },
    ]);
  });

  it("is pure: the same input gives the same decision and the input is left as it was", () => {
    const state: AutoscaleState = {
      recommendations: [recommendation(30, 6)],
      events: [{ atMs: NOW_MS - 30 * SEC, fromWorkers: 4, toWorkers: 6 }],
      lastScaleAtMs: NOW_MS - 30 * SEC,
    };
    const frozen = structuredClone(state);
    const a = decideScale(input({ ready: 6, signals: { slotUtilization: 0.2 }, state }));
    const b = decideScale(input({ ready: 6, signals: { slotUtilization: 0.2 }, state }));
    expect(a).toEqual(b);
    expect(state).toEqual(frozen);
  });
});
