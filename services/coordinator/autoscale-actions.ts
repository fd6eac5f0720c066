// What the autoscaling loop does to reach the policy's worker count: start
// the missing ones, or remove the excess (starting ones first, then the
// least busy ready ones the provider runs, each drained before it stops).
// Pure: the loop carries the plan out and records what happened.
import type { ProviderCapabilities } from "./providers/worker-provider.js";

export const ScaleActionReason = {
  AtTarget: "AtTarget",
  StartWorkers: "StartWorkers",
  RemoveWorkers: "RemoveWorkers",
  /** Above the target, but none of the ready workers is one this provider runs. */
  NoneRemovable: "NoneRemovable",
  ProviderCannotStart: "ProviderCannotStart",
  ProviderCannotStop: "ProviderCannotStop",
} as const;
export type ScaleActionReason = (typeof ScaleActionReason)[keyof typeof ScaleActionReason];

export interface ScaleInput {
  readonly desiredWorkers: number;
  /** In-flight tasks per ready worker (registered, alive, taking tasks, not being removed). */
  readonly inFlightByReadyWorker: ReadonlyMap<string, number>;
  /** startingWorkerIds(), in its order. */
  readonly startingIds: readonly string[];
  /** Workers the provider runs or was asked for: the only ones a scale-down may take. */
  readonly managed: ReadonlySet<string>;
  readonly removing: ReadonlySet<string>;
  /** When each registered worker registered: among equally busy ones the newest goes first. */
  readonly registeredAtMs: ReadonlyMap<string, number>;
  readonly capabilities: ProviderCapabilities;
}

export interface ScalePlan {
  readonly reason: ScaleActionReason;
  readonly message: string;
  readonly startCount: number;
  /** Starting workers serve nobody yet: stopped first, without a drain. */
  readonly stopStarting: readonly string[];
  /** Ready workers to drain (each finishes what it runs) and stop later. */
  readonly drain: readonly string[];
  /** The drained ones handed to stop() at once (stopOnScaleDown "with-drain"). */
  readonly stopWithDrain: readonly string[];
}

export function planScale(input: ScaleInput): ScalePlan {
  const ready = input.inFlightByReadyWorker.size;
  const have = ready + input.startingIds.length;
  const fleet = `${ready} ready + ${input.startingIds.length} starting, desired ${input.desiredWorkers}`;
  const none = { startCount: 0, stopStarting: [], drain: [], stopWithDrain: [] };
  if (input.desiredWorkers === have)
    return { ...none, reason: ScaleActionReason.AtTarget, message: `${fleet}: nothing to do` };
  if (input.desiredWorkers > have) {
    const count = input.desiredWorkers - have;
    if (!input.capabilities.canStart)
      return {
        ...none,
        reason: ScaleActionReason.ProviderCannotStart,
        message: `${fleet}: ${count} more wanted, and the provider starts none (something else must)`,
      };
    return {
      ...none,
      startCount: count,
      reason: ScaleActionReason.StartWorkers,
      message: `${fleet}: start ${count}`,
    };
  }
  const excess = have - input.desiredWorkers;
  if (!input.capabilities.canStop)
    return {
      ...none,
      reason: ScaleActionReason.ProviderCannotStop,
      message: `${fleet}: ${excess} too many, and the provider stops none (something else must)`,
    };
  const stopStarting = input.startingIds.slice(0, excess);
  const drain = leastBusyFirst(input).slice(0, excess - stopStarting.length);
  const stopWithDrain = input.capabilities.stopOnScaleDown === "with-drain" ? drain : [];
  if (stopStarting.length + drain.length === 0) {
    return {
      ...none,
      reason: ScaleActionReason.NoneRemovable,
      message: `${fleet}: ${excess} too many, but no ready worker is one this provider runs`,
    };
  }
  const plan = {
    startCount: 0,
    stopStarting,
    drain,
    stopWithDrain,
    reason: ScaleActionReason.RemoveWorkers,
  };
  return { ...plan, message: `${fleet}: ${removalAction(plan)}` };
}

/** A removal as the scaling history's action column says it: "stop starting w-5; drain w-2, w-3". */
export function removalAction(plan: Pick<ScalePlan, "stopStarting" | "drain">): string {
  const parts = [
    plan.stopStarting.length > 0 ? `stop starting ${plan.stopStarting.join(", ")}` : "",
    plan.drain.length > 0 ? `drain ${plan.drain.join(", ")}` : "",
  ];
  return parts.filter(Boolean).join("; ");
}

/**
 * The ready workers this provider runs, fewest tasks in flight first (the
 * least work to wait for), then the newest registered (as the ReplicaSet
 * controller prefers to keep its older pods), then by id.
 */
function leastBusyFirst(input: ScaleInput): string[] {
  const registeredAt = (id: string): number => input.registeredAtMs.get(id) ?? 0;
  return [...input.inFlightByReadyWorker.entries()]
    .filter(([id]) => input.managed.has(id) && !input.removing.has(id))
    .sort(
      ([a, aInFlight], [b, bInFlight]) =>
        aInFlight - bInFlight || registeredAt(b) - registeredAt(a) || (a < b ? -1 : a > b ? 1 : 0),
    )
    .map(([id]) => id);
}
