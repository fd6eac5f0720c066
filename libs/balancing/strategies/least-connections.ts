// Least connections: the fewest tasks in flight first, whatever the worker's
// size (score = -inFlight). Envoy's LEAST_REQUEST without weights.
import type { Strategy } from "../strategy.js";
import { rankByScore } from "./order.js";

export function createLeastConnections(): Strategy {
  return {
    name: "least_connections",
    rank: (feasible, _request, { random, limit }) =>
      rankByScore(feasible, (worker) => -worker.inFlight, random, undefined, limit),
  };
}
