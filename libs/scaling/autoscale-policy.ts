// The autoscaling policy: (signals, config, state, now) → how many workers,
// why, and the state the next call needs. Pure; the coordinator's loop
// gathers the signals, calls this every sync interval and acts on the answer.
// Each stage below is one file; a stage that changes the count names the
// reason, so the decision's reason is the stage that settled the number.
import type {
  AutoscaleDecision,
  AutoscaleInput,
  AutoscaleMode,
  AutoscaleState,
} from "./autoscale-types.js";
import { advanceBurst, type BurstOutcome } from "./burst-mode.js";
import { applyCoolDown } from "./cool-down.js";
import { applyBounds, upperBoundOf } from "./fleet-bounds.js";
import { holdForStartingWorkers } from "./gradual-steps.js";
import { applyPrediction, lowerByForecast } from "./predictive-step.js";
import { applyRateLimits, recordScaleEvent } from "./rate-limits.js";
import { rawDemandOf } from "./raw-demand.js";
import { proposeBySignal } from "./signal-proposals.js";
import { recordRecommendation, stabilize } from "./stabilization.js";

export function emptyAutoscaleState(): AutoscaleState {
  return { recommendations: [], events: [] };
}

export function decideScale(input: AutoscaleInput): AutoscaleDecision {
  const { config, state, nowMs, readyWorkers, startingWorkers, signals } = input;
  // Starting workers are part of the fleet for every limit; only the ratio rule measures on the ready ones.
  const fleetWorkers = readyWorkers + startingWorkers;

  // 1. Each signal alone, then the highest, since the fleet must satisfy all of them; with no ready workers, any task wakes the fleet.
  const proposals = proposeBySignal({
    signals,
    targets: config.targets,
    readyWorkers,
    tolerances: config,
  });
  const measuredDemand = rawDemandOf({ readyWorkers, startingWorkers, signals, config, proposals });
  // 1b. A forecast that has been right lately may end a hold inside the band; it enters the windows as a raw recommendation, so the scale-down window still guards it.
  const demand = {
    ...lowerByForecast(measuredDemand, {
      readyWorkers,
      startingWorkers,
      signals,
      targetSlotUtilization: config.targets.slotUtilization,
      predictedDemandWorkers: input.predictedDemandWorkers,
      predictionErrorRatio: input.predictionErrorRatio,
    }),
    isWaking: measuredDemand.isWaking,
  };

  // 2. Stabilization first, on raw recommendations only (as the HPA's), so nothing downstream feeds back into its windows.
  //    A wake skips it: the idle zeros in the window must not keep a queue waiting.
  const window = {
    fleetWorkers,
    nowMs,
    up: config.up,
    down: config.down,
    recommendations: state.recommendations,
  };
  const measured = demand.isWaking ? demand : stabilize(demand, window);

  // 2b. The forecast may only raise the stabilized count (scale out ahead of a rise); it never holds or lowers it.
  const stabilized = applyPrediction(measured, {
    fleetWorkers,
    predictedWorkers: input.predictedWorkers,
    predictionNote: input.predictionNote,
    predictionErrorRatio: input.predictionErrorRatio,
  });

  // 3. Burst mode reads the stabilized demand (a single noisy sample starts nothing) and sets the ceiling that step 6 applies.
  const burst = advanceBurst(stabilized, {
    nowMs,
    rawWorkers: demand.workers,
    config,
    state,
    isBurstDetected: input.isBurstDetected ?? false,
  });
  const upper = upperBoundOf(config, burst.phase);

  // 4. Rate policies pace the move relative to the fleet at the start of each policy's period.
  const limited = applyRateLimits(burst.candidate, {
    fleetWorkers,
    nowMs,
    events: state.events,
    up: config.up,
    down: config.down,
    isWaking: demand.isWaking,
  });

  // 5. Cool-down only holds a scale-down, at the current count, so it cannot undo a limit above.
  const cooled = applyCoolDown(limited, {
    fleetWorkers,
    nowMs,
    coolDownSec: config.coolDownSec,
    lastScaleAtMs: state.lastScaleAtMs,
  });

  // 6. Bounds after windows, rates and cool-down: they hold whatever those say, so a burst's end takes the fleet back at once.
  const bounded = applyBounds(cooled, { fleetWorkers, config, upper });

  // 7. Gradual steps last: while workers are starting, hold at ready + starting (a lower ceiling still cuts through).
  const decided = holdForStartingWorkers(bounded, {
    readyWorkers,
    startingWorkers,
    upperBoundWorkers: upper.workers,
  });

  const nextState = nextStateOf(input, burst, demand.workers, decided.workers);
  return {
    desiredWorkers: decided.workers,
    rawDesiredWorkers: demand.workers,
    reason: decided.reason,
    message: decided.message,
    mode: modeOf(burst, decided.workers),
    proposals,
    state: nextState,
  };
}

/** The loop acts on every decision, so a changed count is a scale action from now on. */
function nextStateOf(
  input: AutoscaleInput,
  burst: BurstOutcome,
  rawWorkers: number,
  desiredWorkers: number,
): AutoscaleState {
  const { config, state, nowMs } = input;
  const fleetWorkers = input.readyWorkers + input.startingWorkers;
  const isScaling = desiredWorkers !== fleetWorkers;
  const lastScaleAtMs = isScaling ? nowMs : state.lastScaleAtMs;
  return {
    recommendations: recordRecommendation(
      {
        fleetWorkers,
        nowMs,
        up: config.up,
        down: config.down,
        recommendations: state.recommendations,
      },
      rawWorkers,
    ),
    events: recordScaleEvent(
      { events: state.events, nowMs, up: config.up, down: config.down },
      fleetWorkers,
      desiredWorkers,
    ),
    // Absent rather than undefined, so the state logs and stores as plain JSON.
    ...(lastScaleAtMs !== undefined ? { lastScaleAtMs } : {}),
    ...(burst.burstStartedAtMs !== undefined ? { burstStartedAtMs: burst.burstStartedAtMs } : {}),
    ...(burst.isBurstSpent ? { isBurstSpent: true } : {}),
  };
}

function modeOf(burst: BurstOutcome, desiredWorkers: number): AutoscaleMode {
  if (burst.phase === "started" || burst.phase === "burst") return "burst";
  return desiredWorkers === 0 ? "zero" : "normal";
}
