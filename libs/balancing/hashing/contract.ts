// The Strategy contract the hashing strategies implement, from the shared
// balancing types: one import site for this folder.
export type {
  PlacementContext,
  PlacementRequest,
  RankedCandidate,
  WorkerCandidate,
  WorkerHealth,
} from "../types.js";
export type { Strategy } from "../strategy.js";
