// Affinity: workers that specialise in the task's type first (the type is in
// their `specializations` label, a comma list, or among their capabilities),
// then every other feasible worker; least loaded first within each group. The
// notes say which, so the response can tell a match from a fallback.
import type { Strategy } from "../strategy.js";
import type { PlacementRequest, RankedCandidate, WorkerCandidate } from "../types.js";
import { freeShare, rankByScore } from "./order.js";

export function specializesIn(worker: WorkerCandidate, taskType: string): boolean {
  const specializations = (worker.labels?.specializations ?? "").split(",").map((s) => s.trim());
  return specializations.includes(taskType) || worker.capabilities.includes(taskType);
}

export function createAffinity(): Strategy {
  return {
    name: "affinity",
    rank(feasible, request, { random }): RankedCandidate[] {
      const taskType = request.taskType ?? "";
      if (taskType === "")
        return rankByScore(
          feasible,
          freeShare,
          random,
          () => "no task type given; any feasible worker",
        );
      const matching = feasible.filter((w) => specializesIn(w, taskType));
      const others = feasible.filter((w) => !specializesIn(w, taskType));
      const fallbackNote = fallbackNoteFor(request, matching.length > 0);
      // Score: 1 + free share for a match, the free share alone otherwise.
      return [
        ...rankByScore(
          matching,
          (w) => 1 + freeShare(w),
          random,
          () => "affinity match",
        ),
        ...rankByScore(others, freeShare, random, () => fallbackNote),
      ];
    },
  };
}

function fallbackNoteFor(request: PlacementRequest, hasMatch: boolean): string {
  return hasMatch
    ? `does not specialize in ${request.taskType}; fallback`
    : `no worker specializes in ${request.taskType}; any feasible worker`;
}
