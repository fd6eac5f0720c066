// Region-aware: the request's preferred region first, then the regions listed
// in regionFailover[preferred] in that order, then every other region (so
// all feasible workers are ranked); least loaded first within a region.
//
// Failback is damped: once the preferred region had no capacity (no feasible
// worker) and traffic failed over, it returns only after the preferred region
// has had capacity at every decision for failbackDelayMs. Until then the
// failover regions come first and the preferred region right after them.
// State: per preferred region, whether it is failed over and since when it
// has had capacity again; ranking reads it, a committed placement moves it.
import type { StrategyOptions } from "../strategy-options.js";
import type { Strategy } from "../strategy.js";
import type { RankedCandidate, WorkerCandidate } from "../types.js";
import { freeShare, rankByScore } from "./order.js";

interface Failover {
  /** When the preferred region was last seen with capacity after failing over, continuously since. */
  readonly capacitySinceMs: number | undefined;
}

type RegionOptions = Pick<StrategyOptions, "regionFailover" | "failbackDelayMs">;

// Preferred regions come from requests; keep the table bounded whatever they say.
const MAX_TRACKED_REGIONS = 1_000;

export function createRegionAware(options: RegionOptions): Strategy {
  const failedOver = new Map<string, Failover>();

  /** Whether traffic for `region` goes to its failover regions now, and the state to keep if this placement is committed. */
  const failoverNow = (
    region: string,
    hasCapacity: boolean,
    nowMs: number,
  ): { failing: boolean; next: Failover | undefined } => {
    const state = failedOver.get(region);
    if (!hasCapacity) return { failing: true, next: { capacitySinceMs: undefined } };
    if (!state) return { failing: false, next: undefined };
    const capacitySinceMs = state.capacitySinceMs ?? nowMs;
    return nowMs - capacitySinceMs >= options.failbackDelayMs
      ? { failing: false, next: undefined }
      : { failing: true, next: { capacitySinceMs } };
  };

  const hasPreferredCapacity = (feasible: readonly WorkerCandidate[], preferred: string): boolean =>
    feasible.some((w) => w.region === preferred);

  return {
    name: "region_aware",
    rank(feasible, request, { random, nowMs }): RankedCandidate[] {
      const preferred = request.preferredRegion;
      if (preferred === "")
        return rankByScore(feasible, freeShare, random, () => "no preferred region; least loaded");
      const hasCapacity = hasPreferredCapacity(feasible, preferred);
      const failover = (options.regionFailover[preferred] ?? []).filter((r) => r !== preferred);
      const { failing } = failoverNow(preferred, hasCapacity, nowMs);
      const order = [...new Set(failing ? [...failover, preferred] : [preferred, ...failover])];
      const groups = [
        ...order.map((region) => feasible.filter((w) => w.region === region)),
        feasible.filter((w) => !order.includes(w.region)),
      ];
      const noteFor = (worker: WorkerCandidate): string =>
        describe(worker.region, preferred, failing, hasCapacity);
      // Score: 2 per group from the last one up, plus the free share (0..1) within a group.
      return groups.flatMap((group, i) =>
        rankByScore(group, (w) => 2 * (groups.length - i) + freeShare(w), random, noteFor),
      );
    },
    commit({ request, feasible, nowMs }) {
      const preferred = request.preferredRegion;
      if (preferred === "") return;
      const { next } = failoverNow(preferred, hasPreferredCapacity(feasible, preferred), nowMs);
      if (next === undefined) {
        failedOver.delete(preferred);
        return;
      }
      if (!failedOver.has(preferred) && failedOver.size >= MAX_TRACKED_REGIONS)
        failedOver.delete(failedOver.keys().next().value as string);
      failedOver.set(preferred, next);
    },
  };
}

function describe(
  region: string,
  preferred: string,
  failing: boolean,
  preferredHasCapacity: boolean,
): string {
  if (region === preferred)
    return failing
      ? `preferred region ${preferred} (failback pending)`
      : `preferred region ${preferred}`;
  if (!failing) return `region ${region}, outside the preferred ${preferred}`;
  return preferredHasCapacity
    ? `failover from ${preferred} to ${region}; failback pending until ${preferred} has had capacity long enough`
    : `failover from ${preferred} to ${region}: ${preferred} has no capacity`;
}
