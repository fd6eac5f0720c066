// The policy driven over simulated time by a fake clock: each tick feeds the
// signals a fleet of that size would report, and the decision becomes the
// fleet (new workers turn ready after a start delay, removed ones go at once),
// as the coordinator's loop will. The properties are the promises,
// restated here independently of the implementation; the seeds are fixed.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decideScale, emptyAutoscaleState } from "./autoscale-policy.js";
import type {
  AutoscaleConfig,
  AutoscaleDecision,
  DirectionBehavior,
  RatePolicy,
} from "./autoscale-types.js";

const START_MS = 1_700_000_000_000;
const SLOTS_PER_WORKER = 4;
const RUNS = { numRuns: 150 } as const;

interface SimulationOptions {
  readonly config: AutoscaleConfig;
  readonly syncIntervalSec: number;
  readonly startDelaySec: number;
  readonly initialWorkers: number;
  /** Tasks in the system (running or waiting) at each tick. */
  readonly tasks: readonly number[];
  readonly isBurstDetected?: readonly boolean[];
}

interface SimulatedTick {
  readonly nowMs: number;
  readonly readyWorkers: number;
  readonly startingWorkers: number;
  readonly tasks: number;
  readonly isBurstDetected: boolean;
  readonly decision: AutoscaleDecision;
  /** Ready + starting once the loop has acted on the decision. */
  readonly fleetAfter: number;
}

function simulate(options: SimulationOptions): SimulatedTick[] {
  const ticks: SimulatedTick[] = [];
  let state = emptyAutoscaleState();
  let readyWorkers = options.initialWorkers;
  let startingReadyAtMs: number[] = [];
  options.tasks.forEach((tasks, index) => {
    const nowMs = START_MS + index * options.syncIntervalSec * 1000;
    readyWorkers += startingReadyAtMs.filter((atMs) => atMs <= nowMs).length;
    startingReadyAtMs = startingReadyAtMs.filter((atMs) => atMs > nowMs);
    const capacity = readyWorkers * SLOTS_PER_WORKER;
    const inFlightTasks = Math.min(tasks, capacity);
    const isBurstDetected = options.isBurstDetected?.[index] ?? false;
    const decision = decideScale({
      nowMs,
      readyWorkers,
      startingWorkers: startingReadyAtMs.length,
      signals: {
        ...(capacity > 0 ? { slotUtilization: tasks / capacity } : {}),
        pendingTasks: tasks - inFlightTasks,
        inFlightTasks,
      },
      config: options.config,
      state,
      isBurstDetected,
    });
    const startingWorkers = startingReadyAtMs.length;
    const fleet = readyWorkers + startingWorkers;
    if (decision.desiredWorkers > fleet) {
      for (let i = fleet; i < decision.desiredWorkers; i += 1)
        startingReadyAtMs.push(nowMs + options.startDelaySec * 1000);
    } else if (decision.desiredWorkers < fleet) {
      // Workers still starting go first: they hold no tasks yet.
      const stopStarting = Math.min(startingWorkers, fleet - decision.desiredWorkers);
      startingReadyAtMs = startingReadyAtMs.slice(0, startingWorkers - stopStarting);
      readyWorkers -= fleet - decision.desiredWorkers - stopStarting;
    }
    ticks.push({
      nowMs,
      readyWorkers: fleet - startingWorkers,
      startingWorkers,
      tasks,
      isBurstDetected,
      decision,
      fleetAfter: decision.desiredWorkers,
    });
    state = decision.state;
  });
  return ticks;
}

interface ScaleAction {
  readonly atMs: number;
  readonly fromWorkers: number;
  readonly toWorkers: number;
  readonly direction: "up" | "down";
}

function actionsOf(ticks: readonly SimulatedTick[]): ScaleAction[] {
  return ticks.flatMap((tick) => {
    const fromWorkers = tick.readyWorkers + tick.startingWorkers;
    if (tick.fleetAfter === fromWorkers) return [];
    return [
      {
        atMs: tick.nowMs,
        fromWorkers,
        toWorkers: tick.fleetAfter,
        direction: tick.fleetAfter > fromWorkers ? "up" : "down",
      } as const,
    ];
  });
}

// ---- arbitraries ----

const policyArb = (direction: "up" | "down"): fc.Arbitrary<RatePolicy> =>
  fc.oneof(
    fc.record({
      kind: fc.constant("workers" as const),
      value: fc.integer({ min: 1, max: 5 }),
      periodSec: fc.constantFrom(15, 30, 60, 120),
    }),
    fc.record({
      kind: fc.constant("percent" as const),
      value: fc.integer({ min: 10, max: direction === "up" ? 200 : 100 }),
      periodSec: fc.constantFrom(15, 30, 60, 120),
    }),
  );

function behaviorArb(
  direction: "up" | "down",
  windowsSec: readonly number[],
  selects: ReadonlyArray<DirectionBehavior["select"]> = ["max", "max", "min", "disabled"],
): fc.Arbitrary<DirectionBehavior> {
  return fc.record({
    stabilizationSec: fc.constantFrom(...windowsSec),
    tolerance: fc.constantFrom(0, 0.05, 0.1, 0.2),
    policies: fc.array(policyArb(direction), { maxLength: 2 }),
    select: fc.constantFrom(...selects),
  });
}

/** Load in steps of random height and length, with noise on top. */
const tasksArb = (maxLevel: number, maxTicks = 240): fc.Arbitrary<number[]> =>
  fc
    .tuple(
      fc.array(
        fc.record({
          level: fc.integer({ min: 0, max: maxLevel }),
          ticks: fc.integer({ min: 1, max: 40 }),
        }),
        { minLength: 1, maxLength: 10 },
      ),
      fc.array(fc.integer({ min: -6, max: 6 }), { minLength: 1, maxLength: 50 }),
    )
    .map(([steps, noise]) => {
      const tasks: number[] = [];
      for (const step of steps)
        for (let i = 0; i < step.ticks && tasks.length < maxTicks; i += 1)
          tasks.push(Math.max(0, step.level + (noise[tasks.length % noise.length] ?? 0)));
      return tasks;
    });

const TARGETS = { slotUtilization: 0.55 } as const;

// ---- properties ----

describe("decideScale over simulated time", () => {
  it("never leaves [min_workers, hard_max_workers], exceeds max_workers only in burst mode, and asks for no more than ready + starting while workers start", () => {
    const scenarioArb = fc.record({
      minWorkers: fc.integer({ min: 0, max: 3 }),
      span: fc.integer({ min: 1, max: 10 }),
      hardExtra: fc.integer({ min: 0, max: 8 }),
      burstFactor: fc.constantFrom(1, 1.2, 1.5, 2, 2.5),
      maxBurstDurationSec: fc.constantFrom(30, 60, 120, 300, 600),
      coolDownSec: fc.constantFrom(0, 30, 120),
      allowScaleToZero: fc.boolean(),
      pendingTasksPerWorker: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
      up: behaviorArb("up", [0, 0, 30, 60]),
      down: behaviorArb("down", [0, 60, 300]),
      startDelaySec: fc.constantFrom(0, 10, 30, 90),
      tasks: tasksArb(90),
      detected: fc.array(fc.boolean(), { maxLength: 240 }),
    });
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const maxWorkers = Math.max(1, s.minWorkers + s.span);
        const config: AutoscaleConfig = {
          minWorkers: s.minWorkers,
          maxWorkers,
          hardMaxWorkers: maxWorkers + s.hardExtra,
          targets: {
            ...TARGETS,
            ...(s.pendingTasksPerWorker !== undefined
              ? { pendingTasksPerWorker: s.pendingTasksPerWorker }
              : {}),
          },
          up: s.up,
          down: s.down,
          coolDownSec: s.coolDownSec,
          burstFactor: s.burstFactor,
          maxBurstDurationSec: s.maxBurstDurationSec,
          allowScaleToZero: s.allowScaleToZero,
        };
        const ticks = simulate({
          config,
          syncIntervalSec: 15,
          startDelaySec: s.startDelaySec,
          initialWorkers: s.minWorkers,
          tasks: s.tasks,
          isBurstDetected: s.detected,
        });
        for (const tick of ticks) {
          const { desiredWorkers, mode } = tick.decision;
          expect(desiredWorkers).toBeGreaterThanOrEqual(config.minWorkers);
          expect(desiredWorkers).toBeLessThanOrEqual(config.hardMaxWorkers);
          if (desiredWorkers > maxWorkers) expect(mode).toBe("burst");
          if (tick.startingWorkers > 0)
            expect(desiredWorkers).toBeLessThanOrEqual(tick.readyWorkers + tick.startingWorkers);
        }
      }),
      { ...RUNS, seed: 0x5ca1e },
    );
  });

  it("does not flap under noisy load: a scale-down comes at least one down window after the last scale-up, so no window holds two changes of direction", () => {
    const scenarioArb = fc.record({
      downWindowSec: fc.constantFrom(60, 120, 300),
      up: behaviorArb("up", [0, 0, 15, 45], ["max", "min"]),
      down: behaviorArb("down", [0], ["max", "min"]),
      coolDownSec: fc.constantFrom(0, 15, 60, 120),
      startDelaySec: fc.constantFrom(0, 15, 45),
      tasks: tasksArb(70),
    });
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const windowMs = s.downWindowSec * 1000;
        const config: AutoscaleConfig = {
          minWorkers: 1,
          maxWorkers: 30,
          hardMaxWorkers: 30,
          targets: TARGETS,
          up: s.up,
          down: { ...s.down, stabilizationSec: s.downWindowSec },
          coolDownSec: s.coolDownSec,
          burstFactor: 1,
          maxBurstDurationSec: 300,
          allowScaleToZero: false,
        };
        const actions = actionsOf(
          simulate({
            config,
            syncIntervalSec: 15,
            startDelaySec: s.startDelaySec,
            initialWorkers: 2,
            tasks: s.tasks,
          }),
        );
        let lastUpAtMs: number | undefined;
        for (const action of actions) {
          if (action.direction === "up") lastUpAtMs = action.atMs;
          else if (lastUpAtMs !== undefined)
            expect(action.atMs - lastUpAtMs).toBeGreaterThanOrEqual(windowMs);
        }
        for (const first of actions) {
          const inWindow = actions.filter(
            (a) => a.atMs >= first.atMs && a.atMs < first.atMs + windowMs,
          );
          const changes = inWindow.filter(
            (a, i) => i > 0 && a.direction !== inWindow[i - 1]?.direction,
          ).length;
          expect(changes).toBeLessThanOrEqual(1);
        }
      }),
      { ...RUNS, seed: 0xf1a9 },
    );
  });

  it("honours the rate policies over every period", () => {
    const scenarioArb = fc.record({
      up: behaviorArb("up", [0, 60]),
      down: behaviorArb("down", [0, 60, 300]),
      startDelaySec: fc.constantFrom(0, 15, 45),
      tasks: tasksArb(110),
    });
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const config: AutoscaleConfig = {
          minWorkers: 1,
          maxWorkers: 40,
          hardMaxWorkers: 40,
          targets: TARGETS,
          up: s.up,
          down: s.down,
          coolDownSec: 0,
          burstFactor: 1,
          maxBurstDurationSec: 300,
          allowScaleToZero: false,
        };
        const initialWorkers = 2;
        const actions = actionsOf(
          simulate({
            config,
            syncIntervalSec: 15,
            startDelaySec: s.startDelaySec,
            initialWorkers,
            tasks: s.tasks,
          }),
        );
        /** The fleet after every action taken at or before `atMs`. */
        const fleetAt = (atMs: number): number =>
          actions.filter((a) => a.atMs <= atMs).at(-1)?.toWorkers ?? initialWorkers;
        for (const action of actions) {
          const rules = action.direction === "up" ? s.up : s.down;
          const allowed = allowedBy(action, rules, (periodSec) =>
            fleetAt(action.atMs - periodSec * 1000),
          );
          if (allowed === undefined) continue;
          if (action.direction === "up")
            expect(action.toWorkers).toBeLessThanOrEqual(Math.max(allowed, action.fromWorkers));
          else
            expect(action.toWorkers).toBeGreaterThanOrEqual(Math.min(allowed, action.fromWorkers));
        }
      }),
      { ...RUNS, seed: 0x2a7e },
    );
  });

  it("reverts a burst on time: above max_workers for at most max_burst_duration_sec plus one sync interval, and no new burst while a spent one's demand lasts", () => {
    const scenarioArb = fc.record({
      maxWorkers: fc.integer({ min: 2, max: 10 }),
      burstFactor: fc.constantFrom(1.2, 1.5, 2, 2.5),
      hardFactor: fc.constantFrom(1, 1.5, 3),
      maxBurstDurationSec: fc.constantFrom(30, 60, 120, 300),
      syncIntervalSec: fc.constantFrom(10, 15, 30),
      coolDownSec: fc.constantFrom(0, 60, 600),
      up: behaviorArb("up", [0, 30], ["max", "min"]),
      down: behaviorArb("down", [0, 60, 300]),
      startDelaySec: fc.constantFrom(0, 15, 45),
      tasks: tasksArb(120),
      detected: fc
        .array(fc.boolean(), { maxLength: 240 })
        .map((flags) => flags.map((flag, i) => flag && i % 7 === 0)),
    });
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const config: AutoscaleConfig = {
          minWorkers: 1,
          maxWorkers: s.maxWorkers,
          hardMaxWorkers: Math.ceil(s.maxWorkers * s.hardFactor),
          targets: TARGETS,
          up: s.up,
          down: s.down,
          coolDownSec: s.coolDownSec,
          burstFactor: s.burstFactor,
          maxBurstDurationSec: s.maxBurstDurationSec,
          allowScaleToZero: false,
        };
        const ticks = simulate({
          config,
          syncIntervalSec: s.syncIntervalSec,
          startDelaySec: s.startDelaySec,
          initialWorkers: 1,
          tasks: s.tasks,
          isBurstDetected: s.detected,
        });
        const intervalMs = s.syncIntervalSec * 1000;
        let aboveSinceMs: number | undefined;
        let isSpent = false;
        for (const tick of ticks) {
          if (tick.fleetAfter > s.maxWorkers) aboveSinceMs ??= tick.nowMs;
          else aboveSinceMs = undefined;
          // Above max_workers from aboveSinceMs until at least the next tick.
          if (aboveSinceMs !== undefined)
            expect(tick.nowMs + intervalMs - aboveSinceMs).toBeLessThanOrEqual(
              (s.maxBurstDurationSec + s.syncIntervalSec) * 1000,
            );

          if (isSpent && tick.decision.rawDesiredWorkers <= s.maxWorkers && !tick.isBurstDetected)
            isSpent = false;
          if (isSpent) expect(tick.decision.reason).not.toBe("BurstStarted");
          if (tick.decision.reason === "BurstEnded") isSpent = true;
        }
      }),
      { ...RUNS, seed: 0xb0057 },
    );
  });

  it("wakes a fleet scaled to zero on the first pending task, whatever the windows and the cool-down", () => {
    const scenarioArb = fc.record({
      initialWorkers: fc.integer({ min: 1, max: 4 }),
      up: behaviorArb("up", [0, 60, 300]),
      down: behaviorArb("down", [0, 60, 300], ["max", "min"]),
      coolDownSec: fc.constantFrom(0, 60, 120),
      pendingTasksPerWorker: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
      startDelaySec: fc.constantFrom(0, 15, 45),
      firstTasks: fc.integer({ min: 1, max: 30 }),
      after: tasksArb(40, 40),
    });
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const config: AutoscaleConfig = {
          minWorkers: 0,
          maxWorkers: 10,
          hardMaxWorkers: 10,
          targets: {
            ...TARGETS,
            ...(s.pendingTasksPerWorker !== undefined
              ? { pendingTasksPerWorker: s.pendingTasksPerWorker }
              : {}),
          },
          up: s.up,
          down: s.down,
          coolDownSec: s.coolDownSec,
          burstFactor: 1,
          maxBurstDurationSec: 300,
          allowScaleToZero: true,
        };
        const idleTicks = 200;
        const tasks = [...Array.from({ length: idleTicks }, () => 0), s.firstTasks, ...s.after];
        const ticks = simulate({
          config,
          syncIntervalSec: 15,
          startDelaySec: s.startDelaySec,
          initialWorkers: s.initialWorkers,
          tasks,
        });
        const idleEnd = ticks[idleTicks - 1];
        const wake = ticks[idleTicks];
        expect(idleEnd?.fleetAfter).toBe(0);
        expect(idleEnd?.decision.mode).toBe("zero");
        expect(wake?.decision.desiredWorkers).toBeGreaterThanOrEqual(1);
        expect(["WakeFromZero", "ScaleUpLimited", "DirectionDisabled", "AtMaximum"]).toContain(
          wake?.decision.reason,
        );
        if (s.up.policies.length === 0 && s.up.select !== "disabled") {
          const byQueue =
            s.pendingTasksPerWorker !== undefined
              ? Math.ceil(s.firstTasks / s.pendingTasksPerWorker)
              : 1;
          expect(wake?.decision.desiredWorkers).toBe(Math.min(10, Math.max(1, byQueue)));
        }
      }),
      { ...RUNS, seed: 0x2e20 },
    );
  });
});

/** HPA rate policies restated: the count each policy allows from the fleet at its period's start, then max, min or none. */
function allowedBy(
  action: ScaleAction,
  rules: DirectionBehavior,
  fleetAtPeriodStart: (periodSec: number) => number,
): number | undefined {
  const { direction } = action;
  if (rules.select === "disabled") return action.fromWorkers;
  if (rules.policies.length === 0) return undefined;
  const limits = rules.policies.map((policy) => {
    const start = fleetAtPeriodStart(policy.periodSec);
    if (direction === "up")
      return policy.kind === "workers"
        ? start + policy.value
        : Math.ceil(start * (1 + policy.value / 100) - 1e-9);
    return policy.kind === "workers"
      ? start - policy.value
      : Math.floor(start * (1 - policy.value / 100) + 1e-9);
  });
  const mostChange = direction === "up" ? Math.max(...limits) : Math.min(...limits);
  const leastChange = direction === "up" ? Math.min(...limits) : Math.max(...limits);
  return rules.select === "max" ? mostChange : leastChange;
}

describe("decideScale over simulated time: scenarios", () => {
  const config: AutoscaleConfig = {
    minWorkers: 1,
    maxWorkers: 8,
    hardMaxWorkers: 12,
    targets: TARGETS,
    up: {
      stabilizationSec: 0,
      tolerance: 0.1,
      policies: [
        { kind: "workers", value: 4, periodSec: 15 },
        { kind: "percent", value: 100, periodSec: 15 },
      ],
      select: "max",
    },
    down: {
      stabilizationSec: 300,
      tolerance: 0.1,
      policies: [{ kind: "percent", value: 100, periodSec: 15 }],
      select: "max",
    },
    coolDownSec: 60,
    burstFactor: 1.5,
    maxBurstDurationSec: 120,
    allowScaleToZero: false,
  };

  it("grows at the first sync after a load step and shrinks only after the down window of the lull", () => {
    // 40 ticks of 2 tasks, 40 of 14 (enough for 7 workers at 0.55 of 4 slots), 60 of 2 again.
    const tasks = [
      ...Array.from({ length: 40 }, () => 2),
      ...Array.from({ length: 40 }, () => 14),
      ...Array.from({ length: 60 }, () => 2),
    ];
    const ticks = simulate({
      config,
      syncIntervalSec: 15,
      startDelaySec: 15,
      initialWorkers: 1,
      tasks,
    });
    const actions = actionsOf(ticks);
    expect(actions[0]).toMatchObject({ atMs: START_MS + 40 * 15_000, direction: "up" });
    const firstDown = actions.find((a) => a.direction === "down");
    const lastUp = actions.filter((a) => a.direction === "up").at(-1);
    expect(firstDown?.atMs).toBeGreaterThanOrEqual(START_MS + 80 * 15_000 + 300_000 - 15_000);
    expect(lastUp?.atMs).toBeLessThan(START_MS + 80 * 15_000);
    expect(ticks.at(-1)?.fleetAfter).toBe(1);
  });

  it("bursts above max_workers for 120 s, then holds at max_workers while the demand lasts", () => {
    const tasks = Array.from({ length: 60 }, () => 60);
    const ticks = simulate({
      config,
      syncIntervalSec: 15,
      startDelaySec: 15,
      initialWorkers: 8,
      tasks,
    });
    const above = ticks.filter((t) => t.fleetAfter > 8);
    expect(above.length).toBe(120 / 15);
    expect(Math.max(...ticks.map((t) => t.fleetAfter))).toBe(12);
    expect(ticks.map((t) => t.decision.reason)).toContain("BurstEnded");
    expect(ticks.filter((t) => t.decision.reason === "BurstStarted")).toHaveLength(1);
    expect(ticks.at(-1)?.fleetAfter).toBe(8);
  });
});
