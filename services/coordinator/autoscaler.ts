// The autoscaling loop, the HPA controller's half: every sync interval it
// reads the fleet, asks the pure policy (libs/scaling) how many workers to
// run, acts through the provider, and records the decision with its inputs.
// Around the policy it keeps what only a loop can: which workers it started
// and whether they joined, which it is draining away, and which died and are
// being brought back (progressive backoff, then given up on: degraded).
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Logger } from "pino";
import { WorkerState } from "../../libs/contracts/index.js";
import { decideScale, emptyAutoscaleState, type AutoscaleConfig, type AutoscaleState } from "../../libs/scaling/index.js";
import type { ScalingEventRecord, ScalingHistory, StoredScalingEvent } from "../../libs/ledger/index.js";
import { autoscalerMetrics } from "./autoscaler-metrics.js";
import { readFleet, signalsRecord, type SignalSource } from "./scaling-signals.js";
import type { ProvidedWorker, WorkerProvider } from "./providers/worker-provider.js";

export interface AutoscalerSource extends SignalSource {
  drainWorker(workerId: string): unknown;
  fleetWaker: (() => boolean) | undefined;
  onQueued: (() => void) | undefined;
}

/** Early syncs on a full fleet come at most this often: a spike is answered in about a second, not a sync interval. */
const EARLY_SYNC_GAP_MS = 1_000;

export interface RecoverySettings {
  readonly isEnabled: boolean;
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** What the optimizer's forecast says, for one lead time ahead. */
export interface Prediction {
  readonly predictedWorkers: number;
  readonly isBurstDetected: boolean;
  /** "demand forecast 9.1 slots in 6 s (holt, MAPE 7%)". */
  readonly note: string;
}

export interface AutoscalerOptions {
  readonly source: AutoscalerSource;
  readonly provider: WorkerProvider;
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

/** A worker healthy this long starts its recovery count afresh. */
const RECOVERY_RESET_MS = 60_000;

export function createAutoscaler(options: AutoscalerOptions): Autoscaler {
  const now = options.now ?? Date.now;
  const { provider, source, logger } = options;
  const log = logger.child({ component: "autoscaler", provider: provider.kind });
  let isEnabled = options.isEnabled;
  let manualTarget: number | undefined;
  let policyState: AutoscaleState = emptyAutoscaleState();
  let mode = "normal";
  let desired = 0;
  let current = 0;
  let startingCount = 0;
  let previousRate: { acceptedTotal: number; atMs: number } | undefined;
  let predictive = options.predict ? "predictive: no forecast asked for yet" : "reactive only: off (autoscaler.predictive, or no coordinator.optimizer)";
  let lastEvent: StoredScalingEvent | undefined = options.history.list({ limit: 1 })[0];
  /** Set while the provider cannot list its workers; cleared by the next good list. */
  let providerError: string | undefined;
  const totals = { scaleUps: 0, scaleDowns: 0, failed: 0, healthySec: 0, healthyCount: 0 };
  /** Asked of the provider and not registered yet: id → when asked. */
  const starts = new Map<string, number>();
  /** Being drained away: id → since when. */
  const removing = new Map<string, number>();
  const recovery = new Map<string, { attempts: number; nextAtMs: number }>();
  const healthySince = new Map<string, number>();
  /** Workers given up on, with why (degraded while any is here); one that registers again leaves. */
  const failedWorkers = new Map<string, string>();
  /** Restarts that never registered: dead, though the provider no longer lists them. */
  const lostRestarts = new Map<string, string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let isStopped = false;

  const record = (event: Omit<ScalingEventRecord, "atMs">): void => {
    const stored = options.history.append({ atMs: now(), ...event });
    const isNews = event.action !== "" || event.error !== "" || event.reason !== lastEvent?.reason;
    lastEvent = stored;
    if (!isNews) return;
    const fields = { reason: event.reason, ready: event.readyWorkers, starting: event.startingWorkers, desired: event.desiredWorkers, action: event.action || undefined, error: event.error || undefined };
    if (event.error) log.warn(fields, event.message);
    else log.info(fields, event.message);
  };
  /** An event of the loop's own (a failure, a recovery), recorded against the fleet as the last sync saw it. */
  const loopEvent = (reason: string, message: string, action: string, error: string): void =>
    record({ reason, message, readyWorkers: current, startingWorkers: startingCount, desiredWorkers: desired, rawDesiredWorkers: desired, mode, signals: {}, action, error });
  const countFailure = (): void => {
    totals.failed += 1;
    autoscalerMetrics.failed.inc();
  };
  const fail = (action: string, error: unknown): void => {
    countFailure();
    const message = errorText(error);
    loopEvent("ProviderFailed", `${action} failed: ${message}`, action, message);
  };

  /** Starts that joined, starts that never did, removals that finished. */
  const followUp = async (provided: readonly ProvidedWorker[], registered: ReadonlyMap<string, number>): Promise<Set<string>> => {
    const nowMs = now();
    const removed = new Set<string>();
    for (const [id, askedAtMs] of starts) {
      const registeredAtMs = registered.get(id);
      if (registeredAtMs !== undefined) {
        starts.delete(id);
        healthySince.set(id, nowMs);
        // The worker's own registration time, not this sync's: the loop may look only every sync_interval_sec.
        const healthySec = Math.max(0, Math.min(nowMs, registeredAtMs) - askedAtMs) / 1000;
        totals.healthySec += healthySec;
        totals.healthyCount += 1;
        autoscalerMetrics.timeToHealthy.observe(healthySec);
      } else if (nowMs - askedAtMs > options.startTimeoutMs) {
        starts.delete(id);
        const why = `${id} did not register within ${options.startTimeoutMs / 1000} s (autoscaler.worker_start_timeout_sec)`;
        fail(`start ${id}`, new Error(why));
        await provider.stop([id]).catch(() => undefined);
        removed.add(id);
        // A restart that never joined is a failed restart: recovery goes on (and counts it).
        if (recovery.has(id)) lostRestarts.set(id, why);
      }
    }
    for (const id of failedWorkers.keys()) if (registered.has(id)) failedWorkers.delete(id);
    const byId = new Map(provided.map((w) => [w.workerId, w]));
    for (const [id, sinceMs] of removing) {
      const worker = byId.get(id);
      const hasLeft = !registered.has(id) && (worker === undefined || worker.state === "exited" || worker.state === "failed");
      const isOverdue = nowMs - sinceMs > options.drainTimeoutMs;
      if (!hasLeft && !isOverdue) continue;
      try {
        await provider.stop([id]);
      } catch (error) {
        // Kept in `removing` (drained, no new work): the next sync tries again.
        fail(`stop ${id}`, error);
        continue;
      }
      removing.delete(id);
      healthySince.delete(id);
      removed.add(id);
      if (isOverdue && !hasLeft) log.warn({ workerId: id, drainTimeoutMs: options.drainTimeoutMs }, "worker did not finish draining in time; stopped anyway (autoscaler.drain_timeout_sec)");
    }
    // A worker that left cleanly on its own (an operator's DrainWorker, exit 0) is not a failure to
    // recover from: its remains are cleaned up, and the policy decides whether the fleet needs another.
    for (const worker of provided) {
      if (worker.state !== "exited" || registered.has(worker.workerId) || removing.has(worker.workerId) || starts.has(worker.workerId) || removed.has(worker.workerId)) continue;
      await provider.stop([worker.workerId]).catch(() => undefined);
      healthySince.delete(worker.workerId);
      removed.add(worker.workerId);
    }
    return removed;
  };

  /** Workers the provider runs that died while nobody was removing them. */
  const recover = async (provided: readonly ProvidedWorker[], removed: ReadonlySet<string>): Promise<void> => {
    const nowMs = now();
    const dead = [
      ...provided.filter((w) => w.state === "failed" && !removed.has(w.workerId)).map((w) => ({ workerId: w.workerId, detail: w.detail })),
      ...[...lostRestarts].filter(([id]) => !provided.some((w) => w.workerId === id && w.state !== "failed")).map(([workerId, detail]) => ({ workerId, detail })),
    ];
    for (const worker of dead) {
      const id = worker.workerId;
      if (removing.has(id) || starts.has(id) || failedWorkers.has(id)) continue;
      const since = healthySince.get(id);
      let state = recovery.get(id);
      if (state === undefined || (since !== undefined && nowMs - since > RECOVERY_RESET_MS)) state = { attempts: 0, nextAtMs: nowMs };
      healthySince.delete(id);
      recovery.set(id, state);
      if (!options.recovery.isEnabled || state.attempts >= options.recovery.maxAttempts) {
        const why = options.recovery.isEnabled ? `gave up after ${state.attempts} restart(s) (scaling.max_recovery_attempts)` : "auto recovery is off (scaling.enable_auto_recovery)";
        const reason = `worker ${id} failed (${worker.detail}); ${why}`;
        failedWorkers.set(id, reason);
        lostRestarts.delete(id);
        loopEvent("RecoveryFailed", reason, "", worker.detail);
        continue;
      }
      if (nowMs < state.nextAtMs) continue;
      state.attempts += 1;
      state.nextAtMs = nowMs + Math.min(options.recovery.maxDelayMs, options.recovery.baseDelayMs * 2 ** state.attempts);
      try {
        await provider.replace(id);
        lostRestarts.delete(id);
        starts.set(id, nowMs);
        loopEvent("Recovering", `worker ${id} died (${worker.detail}); restart ${state.attempts} of ${options.recovery.maxAttempts}`, `replace ${id}`, "");
      } catch (error) {
        fail(`replace ${id}`, error);
      }
    }
  };

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
    const registered = new Map(source.listWorkers(false).map((w) => [w.spec?.workerId ?? "", w.registeredAt ? timestampMs(w.registeredAt) : now()] as const));
    const removed = await followUp(provided, registered);
    await recover(provided, removed);

    const nowMs = now();
    const reading = readFleet({ source, removing: new Set(removing.keys()), previous: previousRate, nowMs, memoryLimitBytes: options.memoryLimitBytes });
    previousRate = { acceptedTotal: source.acceptedTotal, atMs: nowMs };
    const managed = new Set([...provided.map((w) => w.workerId), ...starts.keys()]);
    // Starting: asked for and not joined, or (kubernetes) pods the provider shows that have not joined.
    // Dead workers waiting out a recovery backoff count too: the policy must not start others in their place.
    const awaitingRestart = [...recovery.keys()].filter((id) => !registered.has(id) && !failedWorkers.has(id) && !removed.has(id) && (lostRestarts.has(id) || provided.some((w) => w.workerId === id && w.state === "failed")));
    const startingIds = [
      ...new Set([
        ...starts.keys(),
        ...awaitingRestart,
        ...provided.filter((w) => (w.state === "starting" || w.state === "running") && !registered.has(w.workerId) && !removing.has(w.workerId) && !removed.has(w.workerId)).map((w) => w.workerId),
      ]),
    ];
    current = reading.readyWorkerIds.length;
    startingCount = startingIds.length;
    autoscalerMetrics.current.set(current);
    autoscalerMetrics.starting.set(startingCount);

    let decision: { desired: number; raw: number; reason: string; message: string };
    if (manualTarget !== undefined) {
      mode = "manual";
      decision = { desired: manualTarget, raw: manualTarget, reason: "Manual", message: `manual target ${manualTarget} (ScaleWorkers; SetAutoscaling turns the autoscaler back on)` };
    } else if (isEnabled) {
      const prediction = await predictNow();
      const result = decideScale({
        nowMs,
        readyWorkers: current,
        startingWorkers: startingCount,
        signals: reading.signals,
        config: options.policy,
        state: policyState,
        ...(prediction ? { predictedWorkers: prediction.predictedWorkers, isBurstDetected: prediction.isBurstDetected, predictionNote: prediction.note } : {}),
      });
      policyState = result.state;
      mode = result.mode;
      decision = { desired: result.desiredWorkers, raw: result.rawDesiredWorkers, reason: result.reason, message: result.message };
    } else {
      return;
    }
    desired = decision.desired;
    autoscalerMetrics.desired.set(desired);
    const outcome = provider.kind === "external" ? { action: "", error: "" } : await act(desired, current, startingIds, reading.inFlightByWorker, managed);
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

  /** Converges on `target`; says what it did ("" for nothing), or why that failed. */
  const act = async (target: number, ready: number, startingIds: readonly string[], inFlight: ReadonlyMap<string, number>, managed: ReadonlySet<string>): Promise<{ action: string; error: string }> => {
    const have = ready + startingIds.length;
    if (target > have) {
      const count = target - have;
      try {
        const ids = await provider.start(count);
        const askedAtMs = now();
        for (const id of ids) starts.set(id, askedAtMs);
        totals.scaleUps += 1;
        autoscalerMetrics.scaleUps.inc();
        return { action: `start ${count}${ids.length > 0 ? ` (${ids.join(", ")})` : ""}`, error: "" };
      } catch (error) {
        countFailure();
        return { action: "", error: `start ${count}: ${errorText(error)}` };
      }
    }
    if (target >= have) return { action: "", error: "" };
    let excess = have - target;
    const stopped: string[] = [];
    // Workers still starting serve nobody yet: they go first, without a drain.
    for (const id of startingIds.slice(0, excess)) {
      starts.delete(id);
      await provider.stop([id]).catch(() => undefined);
      stopped.push(id);
    }
    excess -= stopped.length;
    // Then the least busy of the workers this provider runs; each is drained (no task is cut off) before it is stopped.
    const victims = [...inFlight.entries()].filter(([id]) => managed.has(id) && !removing.has(id)).sort((a, b) => a[1] - b[1]).slice(0, excess).map(([id]) => id);
    for (const id of victims) {
      try {
        source.drainWorker(id);
        removing.set(id, now());
      } catch (error) {
        log.warn({ workerId: id, err: errorText(error) }, "could not drain a worker chosen for removal");
      }
    }
    // On Kubernetes the drained agent's container would be restarted by the
    // kubelet; lowering replicas at once lets the pod's own SIGTERM end it,
    // and the agent finishes its tasks within the pod's grace period.
    if (provider.kind === "kubernetes" && victims.length > 0) {
      await provider.stop(victims).catch((error: unknown) => log.warn({ workers: victims, err: errorText(error) }, "kubernetes refused the scale-down for now; retrying at the next sync"));
    }
    if (stopped.length + victims.length === 0) return { action: "", error: "" };
    totals.scaleDowns += 1;
    autoscalerMetrics.scaleDowns.inc();
    const action = [stopped.length > 0 ? `stop starting ${stopped.join(", ")}` : "", victims.length > 0 ? `drain ${victims.join(", ")}` : ""].filter(Boolean).join("; ");
    return { action, error: "" };
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
      source.fleetWaker = () => {
        if (provider.kind === "external" || isStopped || (!isEnabled && manualTarget === undefined)) return false;
        void syncNow();
        return true;
      };
      // Tasks waiting for a slot mean the fleet is full now: look again early instead of at the next tick.
      let lastEarlySyncMs = 0;
      source.onQueued = () => {
        if (isStopped || (!isEnabled && manualTarget === undefined) || now() - lastEarlySyncMs < EARLY_SYNC_GAP_MS) return;
        lastEarlySyncMs = now();
        void syncNow();
      };
      log.info({ enabled: isEnabled, syncIntervalMs: options.syncIntervalMs, minWorkers: options.policy.minWorkers, maxWorkers: options.policy.maxWorkers }, "autoscaler started");
      void syncNow();
      timer = setInterval(() => void syncNow(), options.syncIntervalMs);
    },
    async stop() {
      isStopped = true;
      clearInterval(timer);
      source.fleetWaker = undefined;
      source.onQueued = undefined;
      await running;
    },
    syncNow,
    status: () => {
      // Counted now, not at the last sync: an operator asking between syncs sees the fleet as it is.
      const workers = source.listWorkers(false);
      const registeredIds = new Set(workers.map((w) => w.spec?.workerId ?? ""));
      return statusNow(workers.filter((w) => w.state === WorkerState.ALIVE && !w.cordoned && !removing.has(w.spec?.workerId ?? "")).length, [...starts.keys()].filter((id) => !registeredIds.has(id)).length);
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
      policyState = { ...emptyAutoscaleState(), recommendations: [{ atMs: nowMs, workers: Math.max(current + startingCount, desired) }], lastScaleAtMs: nowMs };
      await syncNow();
    },
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
