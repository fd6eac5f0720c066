// A strategy ranks workers that already passed every feasibility filter:
// all of them, best first, so the balancer can fall through on a Place conflict.
import type { PlacementContext, PlacementRequest, RankedCandidate, WorkerCandidate } from "./types.js";

export interface Strategy {
  readonly name: string;
  rank(feasible: readonly WorkerCandidate[], request: PlacementRequest, context: PlacementContext): RankedCandidate[];
}
