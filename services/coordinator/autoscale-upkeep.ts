// The autoscaling loop's upkeep decisions, apart from its I/O (as the HPA
// keeps replica_calculator.go apart from its controller): which starts joined
// or timed out, which drained workers are done, which exited ones are cleaned
// up, what becomes of the dead (autoscale-recovery.ts), and what counts as
// starting. Pure functions of what the loop observed and remembers, the
// provider's capabilities, the settings and the time; they return effects,
// each with its reason, and the loop carries them out.
import {
  recoveryStep,
  type RecoverySettings,
  type RecoveryState,
  type RecoveryStep,
} from "./autoscale-recovery.js";
import type { ProvidedWorker, ProviderCapabilities } from "./providers/worker-provider.js";

export interface UpkeepSettings {
  readonly startTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly recovery: RecoverySettings;
}

/** What the loop keeps between syncs. It owns and changes these; the decisions only read them. */
export interface FleetMemory {
  /** Asked of the provider and not registered yet: id → when asked. */
  readonly starts: ReadonlyMap<string, number>;
  /** Being drained away: id → since when. */
  readonly removing: ReadonlyMap<string, number>;
  readonly recovery: ReadonlyMap<string, RecoveryState>;
  /** id → when its start was seen to register. */
  readonly healthySince: ReadonlyMap<string, number>;
  /** Given up on, with why. */
  readonly failedWorkers: ReadonlyMap<string, string>;
  /** Restarts that never registered, with why: dead, though the provider may no longer list them. */
  readonly lostRestarts: ReadonlyMap<string, string>;
}

/** One sync's view of the fleet. */
export interface FleetObservation {
  /** What the provider runs, as it listed it at the start of the sync. */
  readonly provided: readonly ProvidedWorker[];
  /** Registered with the coordinator and not dead: id → when it registered. */
  readonly registered: ReadonlyMap<string, number>;
}

export const FollowUpReason = {
  Registered: "Registered",
  StartTimedOut: "StartTimedOut",
  LeftAfterDrain: "LeftAfterDrain",
  DrainTimedOut: "DrainTimedOut",
  ExitedOnItsOwn: "ExitedOnItsOwn",
  RegisteredAgain: "RegisteredAgain",
} as const;
export type FollowUpReason = (typeof FollowUpReason)[keyof typeof FollowUpReason];

interface EffectBase<R extends FollowUpReason> {
  readonly workerId: string;
  readonly reason: R;
  readonly message: string;
}

export type FollowUpEffect =
  /** A start registered: no longer starting; timed from the ask to its registration. */
  | (EffectBase<"Registered"> & { readonly kind: "joined"; readonly healthySec: number })
  /** A start never registered: a failed operation, stopped when the provider can. A restart that did so is still being recovered. */
  | (EffectBase<"StartTimedOut"> & {
      readonly kind: "start_timed_out";
      readonly isRestart: boolean;
      readonly shouldStop: boolean;
    })
  /** A drained worker is stopped: it left, or overran the drain timeout. */
  | (EffectBase<"LeftAfterDrain" | "DrainTimedOut"> & { readonly kind: "finish_removal" })
  /** It left cleanly on its own (an operator's drain, exit 0): its remains go, and the policy decides whether another is needed. */
  | (EffectBase<"ExitedOnItsOwn"> & { readonly kind: "clean_up" })
  /** A worker given up on registered again: no longer failed. */
  | (EffectBase<"RegisteredAgain"> & { readonly kind: "clear_failure" });

/** What the loop does for one worker: its memory changes, and any provider call. */
export type UpkeepEffect = FollowUpEffect | RecoveryStep;

export interface UpkeepInput {
  readonly nowMs: number;
  readonly observed: FleetObservation;
  readonly memory: FleetMemory;
  readonly capabilities: ProviderCapabilities;
  readonly settings: UpkeepSettings;
}

/**
 * Follow-ups first (starts, removals, clean-ups), then recovery, which sees
 * the fleet as the follow-ups leave it: a worker they stop is not dead, a
 * start they time out is no longer starting.
 */
export function planUpkeep(input: UpkeepInput): UpkeepEffect[] {
  const followUps = [...followUpStarts(input), ...followUpRemovals(input)];
  const removed = new Set(followUps.filter((e) => e.kind !== "joined").map((e) => e.workerId));
  const cleanUps = cleanUpExited(input, removed);
  for (const effect of cleanUps) removed.add(effect.workerId);
  const cleared = [...input.memory.failedWorkers.keys()]
    .filter((id) => input.observed.registered.has(id))
    .map((workerId): FollowUpEffect => ({
      kind: "clear_failure",
      workerId,
      reason: FollowUpReason.RegisteredAgain,
      message: `${workerId} registered again`,
    }));
  const upkept = [...followUps, ...cleanUps, ...cleared];
  return [...upkept, ...planRecovery(input, upkept, removed)];
}

function followUpStarts({
  nowMs,
  observed,
  memory,
  capabilities,
  settings,
}: UpkeepInput): FollowUpEffect[] {
  const effects: FollowUpEffect[] = [];
  for (const [workerId, askedAtMs] of memory.starts) {
    const registeredAtMs = observed.registered.get(workerId);
    if (registeredAtMs !== undefined) {
      // The worker's own registration time, not this sync's: the loop may look only every sync_interval_sec.
      const healthySec = Math.max(0, Math.min(nowMs, registeredAtMs) - askedAtMs) / 1000;
      effects.push({
        kind: "joined",
        workerId,
        reason: FollowUpReason.Registered,
        healthySec,
        message: `${workerId} registered ${healthySec} s after it was asked for`,
      });
    } else if (nowMs - askedAtMs > settings.startTimeoutMs) {
      const message = `${workerId} did not register within ${settings.startTimeoutMs / 1000} s (autoscaler.worker_start_timeout_sec)`;
      effects.push({
        kind: "start_timed_out",
        workerId,
        reason: FollowUpReason.StartTimedOut,
        message,
        isRestart: memory.recovery.has(workerId),
        shouldStop: capabilities.canStop,
      });
    }
  }
  return effects;
}

function followUpRemovals({ nowMs, observed, memory, settings }: UpkeepInput): FollowUpEffect[] {
  const byId = new Map(observed.provided.map((w) => [w.workerId, w]));
  const effects: FollowUpEffect[] = [];
  for (const [workerId, sinceMs] of memory.removing) {
    const worker = byId.get(workerId);
    const hasLeft =
      !observed.registered.has(workerId) &&
      (worker === undefined || worker.state === "exited" || worker.state === "failed");
    if (hasLeft) {
      effects.push({
        kind: "finish_removal",
        workerId,
        reason: FollowUpReason.LeftAfterDrain,
        message: `${workerId} drained and left`,
      });
    } else if (nowMs - sinceMs > settings.drainTimeoutMs) {
      const message = `${workerId} did not finish draining within ${settings.drainTimeoutMs / 1000} s (autoscaler.drain_timeout_sec); stopped anyway`;
      effects.push({
        kind: "finish_removal",
        workerId,
        reason: FollowUpReason.DrainTimedOut,
        message,
      });
    }
  }
  return effects;
}

function cleanUpExited(
  { observed, memory, capabilities }: UpkeepInput,
  removed: ReadonlySet<string>,
): FollowUpEffect[] {
  if (!capabilities.canStop) return [];
  const isAccountedFor = (id: string): boolean =>
    observed.registered.has(id) ||
    memory.removing.has(id) ||
    memory.starts.has(id) ||
    removed.has(id);
  return observed.provided
    .filter((w) => w.state === "exited" && !isAccountedFor(w.workerId))
    .map((w) => ({
      kind: "clean_up",
      workerId: w.workerId,
      reason: FollowUpReason.ExitedOnItsOwn,
      message: `${w.workerId} exited on its own (${w.detail}); its remains are cleaned up`,
    }));
}

/** Workers the provider runs that died while nobody was removing them, and restarts that never joined. */
function planRecovery(
  input: UpkeepInput,
  upkept: readonly FollowUpEffect[],
  removed: ReadonlySet<string>,
): RecoveryStep[] {
  const { nowMs, observed, memory, settings } = input;
  // A provider that cannot start cannot bring anyone back; nothing waits on it either.
  if (!input.capabilities.canStart) return [];
  const ids = (kind: FollowUpEffect["kind"]): Set<string> =>
    new Set(upkept.filter((e) => e.kind === kind).map((e) => e.workerId));
  const joined = ids("joined");
  const cleared = ids("clear_failure");
  const isStillStarting = (id: string): boolean =>
    memory.starts.has(id) && !joined.has(id) && !removed.has(id);
  const isGivenUp = (id: string): boolean => memory.failedWorkers.has(id) && !cleared.has(id);
  const lostRestarts = new Map(memory.lostRestarts);
  for (const e of upkept)
    if (e.kind === "start_timed_out" && e.isRestart) lostRestarts.set(e.workerId, e.message);

  const dead = new Map<string, string>();
  for (const w of observed.provided)
    if (w.state === "failed" && !removed.has(w.workerId)) dead.set(w.workerId, w.detail);
  for (const [id, detail] of lostRestarts) {
    // Listed and not failed: the restart is up after all (or is being stopped).
    if (!observed.provided.some((w) => w.workerId === id && w.state !== "failed") && !dead.has(id))
      dead.set(id, detail);
  }
  return [...dead]
    .filter(([id]) => !memory.removing.has(id) && !isStillStarting(id) && !isGivenUp(id))
    .map(([workerId, detail]) => {
      const healthySinceMs = joined.has(workerId) ? nowMs : memory.healthySince.get(workerId);
      return recoveryStep(
        { workerId, detail, known: memory.recovery.get(workerId), healthySinceMs },
        settings.recovery,
        nowMs,
      );
    });
}

/**
 * Workers that will serve but do not yet, in this order: asked for and not
 * registered (oldest ask first); dead ones waiting out a recovery backoff
 * (the policy must not start others in their place); and ones the provider
 * runs that have not registered (kubernetes pods it could not name when
 * asked, a child still booting). `removed`: stopped during this sync.
 */
export function startingWorkerIds(input: {
  readonly observed: FleetObservation;
  readonly memory: FleetMemory;
  readonly removed: ReadonlySet<string>;
}): string[] {
  const { observed, memory, removed } = input;
  const isListedFailed = (id: string): boolean =>
    observed.provided.some((w) => w.workerId === id && w.state === "failed");
  const awaitingRestart = [...memory.recovery.keys()].filter(
    (id) =>
      !observed.registered.has(id) &&
      !memory.failedWorkers.has(id) &&
      !removed.has(id) &&
      (memory.lostRestarts.has(id) || isListedFailed(id)),
  );
  const notJoined = observed.provided
    .filter(
      (w) =>
        (w.state === "starting" || w.state === "running") &&
        !observed.registered.has(w.workerId) &&
        !memory.removing.has(w.workerId) &&
        !removed.has(w.workerId),
    )
    .map((w) => w.workerId);
  return [...new Set([...memory.starts.keys(), ...awaitingRestart, ...notJoined])];
}
