// The autoscaling loop, the HPA controller's half: every sync interval it
// reads the fleet, asks the pure policy (libs/scaling) how many workers to
// run, asks the pure decisions (autoscale-upkeep.ts, autoscale-actions.ts)
// what that means for each worker, carries them out through the provider,
// and records the decision with its inputs. What it keeps between syncs is
// only memory: which workers it started, which it is draining away, which
// died and are being brought back, and which it gave up on (degraded).
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Logger } from "pino";
import { WorkerState, type WorkerStatus } from "../../libs/contracts/index.js";
import {
  decideScale,
  emptyAutoscaleState,
  type AutoscaleConfig,
  type AutoscaleState,
} from "../../libs/scaling/index.js";
import type {
  ScalingEventRecord,
  ScalingHistory,
  StoredScalingEvent,
} from "../../libs/ledger/index.js";
import { planScale, removalAction, type ScalePlan } from "./autoscale-actions.js";
import type { RecoverySettings, RecoveryState } from "./autoscale-recovery.js";
import {
  FollowUpReason,
  planUpkeep,
  startingWorkerIds,
  type FleetMemory,
  type FleetObservation,
  type UpkeepEffect,
} from "./autoscale-upkeep.js";
import { autoscalerMetrics } from "./autoscaler-metrics.js";
import type { FleetHooks } from "./coordinator.js";
import { readFleet, signalsRecord } from "./scaling-signals.js";
import type { ProvidedWorker, WorkerProvider } from "./providers/worker-provider.js";

export type { RecoverySettings } from "./autoscale-recovery.js";

/**
 * The coordinator as the autoscaler uses it, all of it: what a sync reads,
 * the drain a scale-down asks for, and the hooks it hands over while it runs.
 * The Coordinator satisfies it as it stands; re-wiring the coordinator side
 * changes this one place.
 */
export interface FleetSource {
  /** Registered workers (dead ones too when asked): readiness, load, heartbeat figures, registration times. */
  listWorkers(includeDead: boolean): WorkerStatus[];
  /** Tasks waiting for a slot. */
  readonly pendingCount: number;
  /** Tasks accepted since start, never reset: the arrival rate is its difference between syncs. */
  readonly acceptedTotal: number;
  /** A worker chosen for removal takes nothing new and finishes what it runs; throws for an unknown worker. */
  drainWorker(workerId: string): unknown;
  /** Hands over wake-from-zero and queued-task hooks from start() to stop(); returns the detach. */
  attachFleet(hooks: FleetHooks): () => void;
}

/** What a worker it starts looks like when nobody says: no region, zone or capabilities (only unconstrained tasks wait for one). */
const PLAIN_WORKER: FleetHooks["template"] = { region: "", zone: "", capabilities: [] };

/** Early syncs on a full fleet come at most this often: a spike is answered in about a second, not a sync interval. */
const EARLY_SYNC_GAP_MS = 1_000;

/** What the optimizer's forecast says, for one lead time ahead. */
export interface Prediction {
  readonly predictedWorkers: number;
  readonly isBurstDetected: boolean;
  /** "demand forecast 9.1 slots in 6 s (holt, MAPE 7%)". */
  readonly note: string;
}

export interface AutoscalerOptions {
  readonly source: FleetSource;
  readonly provider: WorkerProvider;
  /** The region, zone and capabilities of the workers the provider starts: a task needing them waits for one instead of being refused. */
  readonly workerTemplate?: FleetHooks["template"];
  readonly policy: AutoscaleConfig;
  readonly isEnabled: boolean;
  readonly syncIntervalMs: number;
  readonly startTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly recovery: RecoverySettings;
  readonly memoryLimitBytes: number;
  readonly history: ScalingHistory;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Asks the optimizer; absent when predictive scaling is off. Rejects when the optimizer cannot be asked: the loop goes on reactively. */
  readonly predict?: (leadTimeSec: number) => Promise<Prediction>;
}

export interface ScalingStatus {
  readonly isEnabled: boolean;
  readonly provider: string;
  readonly currentWorkers: number;
  readonly startingWorkers: number;
  readonly desiredWorkers: number;
  readonly minWorkers: number;
  readonly maxWorkers: number;
  readonly mode: string;
  readonly scaleUps: number;
  readonly scaleDowns: number;
  readonly failedOperations: number;
  readonly meanTimeToHealthySec: number;
  readonly lastEvent: StoredScalingEvent | undefined;
  readonly degradedReason: string | undefined;
  readonly failedWorkers: readonly string[];
  readonly predictive: string;
}

export interface Autoscaler {
  start(): void;
  stop(): Promise<void>;
  /** One sync now (tests, and a task waking a fleet of zero). */
  syncNow(): Promise<void>;
  status(): ScalingStatus;
  /** A manual target; switches the autoscaler off until setEnabled(true). */
  scaleTo(workers: number): Promise<void>;
  setEnabled(isEnabled: boolean): Promise<void>;
}

export function createAutoscaler(options: AutoscalerOptions): Autoscaler {
  const now = options.now ?? Date.now;
  const { provider, source, logger } = options;
  const { capabilities } = provider;
  const log = logger.child({ component: "autoscaler", provider: provider.kind });
  let isEnabled = options.isEnabled;
  let manualTarget: number | undefined;
  let policyState: AutoscaleState = emptyAutoscaleState();
  let mode = "normal";
  let desired = 0;
  let current = 0;
  let startingCount = 0;
  let previousRate: { acceptedTotal: number; atMs: number } | undefined;
  let predictive = options.predict
    ? "predictive: no forecast asked for yet"
    : "reactive only: off (autoscaler.predictive, or no coordinator.optimizer)";
  // The history answers with promises: the status shows the last decision
  // once it is stored, and whether a decision is news compares reasons now.
  let lastEvent: StoredScalingEvent | undefined;
  let lastReason: string | undefined;
  /** The history's writes in flight, awaited by stop() so it closes after them. */
  let appended: Promise<void> = options.history.list({ limit: 1 }).then(
    ([event]) => {
      lastEvent ??= event;
      lastReason ??= event?.reason;
    },
    (error: unknown) => log.warn({ err: errorText(error) }, "cannot read the scaling history"),
  );
  /** Set while the provider cannot list its workers; cleared by the next good list. */
  let providerError: string | undefined;
  const totals = { scaleUps: 0, scaleDowns: 0, failed: 0, healthySec: 0, healthyCount: 0 };
  autoscalerMetrics.minWorkers.set(options.policy.minWorkers);
  autoscalerMetrics.maxWorkers.set(options.policy.maxWorkers);
  // The loop's memory (FleetMemory in autoscale-upkeep.ts says what each holds); only this file changes it.
  const starts = new Map<string, number>();
  const removing = new Map<string, number>();
  const recovery = new Map<string, RecoveryState>();
  const healthySince = new Map<string, number>();
  const failedWorkers = new Map<string, string>();
  const lostRestarts = new Map<string, string>();
  const memory: FleetMemory = {
    starts,
    removing,
    recovery,
    healthySince,
    failedWorkers,
    lostRestarts,
  };
  const upkeepSettings = {
    startTimeoutMs: options.startTimeoutMs,
    drainTimeoutMs: options.drainTimeoutMs,
    recovery: options.recovery,
  };
  let timer: NodeJS.Timeout | undefined;
  let detachFleet: (() => void) | undefined;
  let running: Promise<void> | undefined;
  let isStopped = false;

  const record = (event: Omit<ScalingEventRecord, "atMs">): void => {
    const isNews = event.action !== "" || event.error !== "" || event.reason !== lastReason;
    lastReason = event.reason;
    const append = options.history.append({ atMs: now(), ...event });
    appended = Promise.all([appended, append]).then(
      ([, stored]) => void (lastEvent = stored),
      (error: unknown) =>
        log.warn({ err: errorText(error) }, "cannot record a decision in the scaling history"),
    );
    if (!isNews) return;
    const fields = {
      reason: event.reason,
      ready: event.readyWorkers,
      starting: event.startingWorkers,
      desired: event.desiredWorkers,
      action: event.action || undefined,
      error: event.error || undefined,
    };
    if (event.error) log.warn(fields, event.message);
    else log.info(fields, event.message);
  };
  /** An event of the loop's own (a failure, a recovery), recorded against the fleet as the last sync saw it. */
  const loopEvent = (reason: string, message: string, action: string, error: string): void =>
    record({
      reason,
      message,
      readyWorkers: current,
      startingWorkers: startingCount,
      desiredWorkers: desired,
      rawDesiredWorkers: desired,
      mode,
      signals: {},
      action,
      error,
    });
  const countFailure = (): void => {
    totals.failed += 1;
    autoscalerMetrics.failed.inc();
  };
  const fail = (action: string, error: unknown): void => {
    countFailure();
    const message = errorText(error);
    loopEvent("ProviderFailed", `${action} failed: ${message}`, action, message);
  };

  /** Carries out one upkeep decision; `removed` gathers the workers stopped during this sync. */
  const carryOut = async (
    effect: UpkeepEffect,
    atMs: number,
    removed: Set<string>,
  ): Promise<void> => {
    const id = effect.workerId;
    switch (effect.kind) {
      case "joined":
        starts.delete(id);
        healthySince.set(id, atMs);
        totals.healthySec += effect.healthySec;
        totals.healthyCount += 1;
        autoscalerMetrics.timeToHealthy.observe(effect.healthySec);
        return;
      case "start_timed_out":
        starts.delete(id);
        fail(`start ${id}`, new Error(effect.message));
        if (effect.shouldStop) await provider.stop([id]).catch(() => undefined);
        removed.add(id);
        // A restart that never joined is a failed restart: recovery goes on (and counts it).
        if (effect.isRestart) lostRestarts.set(id, effect.message);
        return;
      case "finish_removal":
        try {
          await provider.stop([id]);
        } catch (error) {
          // Kept in `removing` (drained, no new work): the next sync tries again.
          fail(`stop ${id}`, error);
          return;
        }
        removing.delete(id);
        healthySince.delete(id);
        removed.add(id);
        if (effect.reason === FollowUpReason.DrainTimedOut)
          log.warn({ workerId: id, drainTimeoutMs: options.drainTimeoutMs }, effect.message);
        return;
      case "clean_up":
        await provider.stop([id]).catch(() => undefined);
        healthySince.delete(id);
        removed.add(id);
        return;
      case "clear_failure":
        failedWorkers.delete(id);
        return;
      case "restart":
        healthySince.delete(id);
        recovery.set(id, effect.recovery);
        try {
          await provider.replace(id);
          lostRestarts.delete(id);
          starts.set(id, atMs);
          loopEvent("Recovering", effect.message, `replace ${id}`, "");
        } catch (error) {
          fail(`replace ${id}`, error);
        }
        return;
      case "wait":
        healthySince.delete(id);
        recovery.set(id, effect.recovery);
        return;
      case "give_up":
        healthySince.delete(id);
        recovery.set(id, effect.recovery);
        failedWorkers.set(id, effect.message);
        lostRestarts.delete(id);
        loopEvent("RecoveryFailed", effect.message, "", effect.detail);
        return;
      default: {
        const unknown: never = effect;
        throw new Error(`unknown upkeep effect ${JSON.stringify(unknown)}`);
      }
    }
  };

  /** Registered workers (not dead), by id, with when each registered. */
  const registeredNow = (): Map<string, number> =>
    new Map(
      source
        .listWorkers(false)
        .map(
          (w) =>
            [w.spec?.workerId ?? "", w.registeredAt ? timestampMs(w.registeredAt) : now()] as const,
        ),
    );

  const sync = async (): Promise<void> => {
    let provided: readonly ProvidedWorker[];
    try {
      provided = await provider.list();
      providerError = undefined;
    } catch (error) {
      providerError = `provider ${provider.kind} cannot list its workers: ${errorText(error)}`;
      fail("list", error);
      return;
    }
    const observed: FleetObservation = { provided, registered: registeredNow() };
    const upkeepAtMs = now();
    const removed = new Set<string>();
    for (const effect of planUpkeep({
      nowMs: upkeepAtMs,
      observed,
      memory,
      capabilities,
      settings: upkeepSettings,
    }))
      await carryOut(effect, upkeepAtMs, removed);

    const nowMs = now();
    const reading = readFleet({
      source,
      removing: new Set(removing.keys()),
      previous: previousRate,
      nowMs,
      memoryLimitBytes: options.memoryLimitBytes,
    });
    previousRate = { acceptedTotal: source.acceptedTotal, atMs: nowMs };
    const startingIds = startingWorkerIds({ observed, memory, removed });
    current = reading.readyWorkerIds.length;
    startingCount = startingIds.length;
    autoscalerMetrics.current.set(current);
    autoscalerMetrics.starting.set(startingCount);

    let decision: { desired: number; raw: number; reason: string; message: string };
    if (manualTarget !== undefined) {
      mode = "manual";
      decision = {
        desired: manualTarget,
        raw: manualTarget,
        reason: "Manual",
        message: `manual target ${manualTarget} (ScaleWorkers; SetAutoscaling turns the autoscaler back on)`,
      };
    } else if (isEnabled) {
      const prediction = await predictNow();
      const result = decideScale({
        nowMs,
        readyWorkers: current,
        startingWorkers: startingCount,
        signals: reading.signals,
        config: options.policy,
        state: policyState,
        ...(prediction
          ? {
              predictedWorkers: prediction.predictedWorkers,
              isBurstDetected: prediction.isBurstDetected,
              predictionNote: prediction.note,
            }
          : {}),
      });
      policyState = result.state;
      mode = result.mode;
      decision = {
        desired: result.desiredWorkers,
        raw: result.rawDesiredWorkers,
        reason: result.reason,
        message: result.message,
      };
    } else {
      return;
    }
    desired = decision.desired;
    autoscalerMetrics.desired.set(desired);
    // The reasons are a fixed set (AutoscaleReason, and Manual): a bounded label.
    autoscalerMetrics.decisions.inc({ reason: decision.reason });
    const plan = planScale({
      desiredWorkers: desired,
      inFlightByReadyWorker: reading.inFlightByWorker,
      startingIds,
      managed: new Set([...provided.map((w) => w.workerId), ...starts.keys()]),
      removing: new Set(removing.keys()),
      registeredAtMs: observed.registered,
      capabilities,
    });
    log.debug({ reason: plan.reason }, plan.message);
    const outcome = await act(plan);
    record({
      reason: decision.reason,
      message: decision.message,
      readyWorkers: current,
      startingWorkers: startingCount,
      desiredWorkers: desired,
      rawDesiredWorkers: decision.raw,
      mode,
      signals: signalsRecord(reading.signals),
      ...outcome,
    });
  };

  /**
   * The optimizer's forecast one worker start ahead (the measured mean time
   * to healthy, at least a sync interval); undefined when it cannot be
   * asked, and then the status says scaling is reactive only.
   */
  const predictNow = async (): Promise<Prediction | undefined> => {
    if (!options.predict) return undefined;
    const meanStartSec = totals.healthyCount > 0 ? totals.healthySec / totals.healthyCount : 5;
    const leadTimeSec = Math.max(meanStartSec, 0) + options.syncIntervalMs / 1000;
    try {
      const prediction = await options.predict(leadTimeSec);
      predictive = `predictive: ${prediction.note}${prediction.isBurstDetected ? "; burst detected" : ""}`;
      return prediction;
    } catch (error) {
      const wasPredictive = predictive.startsWith("predictive");
      predictive = `reactive only: the optimizer cannot be asked (${errorText(error)})`;
      if (wasPredictive) log.warn({ reason: predictive }, "falling back to reactive scaling");
      return undefined;
    }
  };

  /** Carries out the scale plan; says what it did ("" for nothing), or why that failed. */
  const act = async (plan: ScalePlan): Promise<{ action: string; error: string }> => {
    if (plan.startCount > 0) {
      const count = plan.startCount;
      try {
        const ids = await provider.start(count);
        const askedAtMs = now();
        for (const id of ids) starts.set(id, askedAtMs);
        totals.scaleUps += 1;
        autoscalerMetrics.scaleUps.inc();
        return {
          action: `start ${count}${ids.length > 0 ? ` (${ids.join(", ")})` : ""}`,
          error: "",
        };
      } catch (error) {
        countFailure();
        return { action: "", error: `start ${count}: ${errorText(error)}` };
      }
    }
    for (const id of plan.stopStarting) {
      starts.delete(id);
      await provider.stop([id]).catch(() => undefined);
    }
    for (const id of plan.drain) {
      try {
        source.drainWorker(id);
        removing.set(id, now());
      } catch (error) {
        log.warn(
          { workerId: id, err: errorText(error) },
          "could not drain a worker chosen for removal",
        );
      }
    }
    if (plan.stopWithDrain.length > 0) {
      await provider
        .stop(plan.stopWithDrain)
        .catch((error: unknown) =>
          log.warn(
            { workers: plan.stopWithDrain, err: errorText(error) },
            "the provider refused the scale-down for now; each is stopped again once it has left or overrun drain_timeout_sec",
          ),
        );
    }
    if (plan.stopStarting.length + plan.drain.length === 0) return { action: "", error: "" };
    totals.scaleDowns += 1;
    autoscalerMetrics.scaleDowns.inc();
    return { action: removalAction(plan), error: "" };
  };

  const syncNow = (): Promise<void> => {
    // One sync at a time: a slow provider call must not overlap the next tick.
    running ??= sync()
      .catch((error: unknown) => fail("sync", error))
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  const statusNow = (readyNow: number, startingNow: number): ScalingStatus => ({
    isEnabled,
    provider: provider.kind,
    currentWorkers: readyNow,
    startingWorkers: startingNow,
    desiredWorkers: desired,
    minWorkers: options.policy.minWorkers,
    maxWorkers: options.policy.maxWorkers,
    mode: manualTarget !== undefined ? "manual" : isEnabled ? mode : "off",
    scaleUps: totals.scaleUps,
    scaleDowns: totals.scaleDowns,
    failedOperations: totals.failed,
    meanTimeToHealthySec: totals.healthyCount > 0 ? totals.healthySec / totals.healthyCount : 0,
    lastEvent,
    degradedReason: providerError ?? failedWorkers.values().next().value,
    failedWorkers: [...failedWorkers.keys()],
    predictive,
  });

  return {
    start() {
      // Steering: enabled, or holding a manual target; either may grow the fleet.
      const isSteering = (): boolean => !isStopped && (isEnabled || manualTarget !== undefined);
      let lastEarlySyncMs = 0;
      detachFleet = source.attachFleet({
        template: options.workerTemplate ?? PLAIN_WORKER,
        wake: () => {
          if (!capabilities.canStart || !isSteering()) return false;
          void syncNow();
          return true;
        },
        // Tasks waiting for a slot mean the fleet is full now: look again early instead of at the next tick.
        onQueued: () => {
          if (!isSteering() || now() - lastEarlySyncMs < EARLY_SYNC_GAP_MS) return;
          lastEarlySyncMs = now();
          void syncNow();
        },
      });
      log.info(
        {
          enabled: isEnabled,
          syncIntervalMs: options.syncIntervalMs,
          minWorkers: options.policy.minWorkers,
          maxWorkers: options.policy.maxWorkers,
          capabilities,
        },
        "autoscaler started",
      );
      void syncNow();
      timer = setInterval(() => void syncNow(), options.syncIntervalMs);
    },
    async stop() {
      isStopped = true;
      clearInterval(timer);
      detachFleet?.();
      detachFleet = undefined;
      await running;
      await appended;
    },
    syncNow,
    status: () => {
      // Counted now, not at the last sync: an operator asking between syncs sees the fleet as it is.
      const workers = source.listWorkers(false);
      const registeredIds = new Set(workers.map((w) => w.spec?.workerId ?? ""));
      return statusNow(
        workers.filter(
          (w) =>
            w.state === WorkerState.ALIVE && !w.cordoned && !removing.has(w.spec?.workerId ?? ""),
        ).length,
        [...starts.keys()].filter((id) => !registeredIds.has(id)).length,
      );
    },
    async scaleTo(workers) {
      manualTarget = workers;
      isEnabled = false;
      await syncNow();
    },
    async setEnabled(enabled) {
      isEnabled = enabled;
      manualTarget = undefined;
      // Handed back to the policy, the fleet as it stands counts as its latest decision: no scale-down
      // before the down window and the cool-down have passed, as after any scale action.
      const nowMs = now();
      policyState = {
        ...emptyAutoscaleState(),
        recommendations: [{ atMs: nowMs, workers: Math.max(current + startingCount, desired) }],
        lastScaleAtMs: nowMs,
      };
      await syncNow();
    },
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
