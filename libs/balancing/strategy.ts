// A strategy ranks workers that already passed every feasibility filter.
import type { PlacementRequest, RandomSource, RankedCandidate, WorkerCandidate } from "./types.js";

export interface Strategy {
  readonly name: string;
  rank(feasible: readonly WorkerCandidate[], request: PlacementRequest, random: RandomSource): RankedCandidate[];
}
