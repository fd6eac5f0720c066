// A strategy ranks workers that already passed every feasibility filter:
// all of them, best first, so the balancer can fall through on a Place conflict.
// Ranking is pure: asking (Route), a conflict or a refused Place leaves no
// trace. A strategy that keeps state (a sticky binding, a round-robin
// position, load samples, a failover timer) changes it only in `commit`,
// called once a placement was committed (Nomad's plan applier, not its ranker).
import type {
  CommittedPlacement,
  PlacementContext,
  PlacementRequest,
  RankedCandidate,
  WorkerCandidate,
} from "./types.js";

export interface Strategy {
  readonly name: string;
  rank(
    feasible: readonly WorkerCandidate[],
    request: PlacementRequest,
    context: PlacementContext,
  ): RankedCandidate[];
  commit?(placement: CommittedPlacement): void;
}
