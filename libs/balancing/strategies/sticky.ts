// Sticky: a routing key keeps its worker while that worker is feasible,
// healthy (circuit closed, score at least stickyMinHealthScore) and has room;
// otherwise the key moves to the least loaded worker. A binding lapses
// stickyTtlMs after its last use (sliding), and the table holds at most
// stickyMaxKeys keys, forgetting the least recently used first. Requests
// without a key are ranked least loaded and bind nothing. Ranking only reads
// the table; a key is bound (or its binding refreshed) in commit, to the
// worker that actually took the task.
import type { StrategyOptions } from "../strategy-options.js";
import type { Strategy } from "../strategy.js";
import { healthOrDefault, type RankedCandidate } from "../types.js";
import { freeShare, rankByScore, withNote } from "./order.js";

interface Binding {
  readonly workerId: string;
  readonly expiresAtMs: number;
}

type StickyOptions = Pick<
  StrategyOptions,
  "stickyTtlMs" | "stickyMaxKeys" | "stickyMinHealthScore"
>;

export function createSticky(options: StickyOptions): Strategy {
  // Map keeps insertion order: re-inserting on use makes the first entry the least recently used.
  const bindings = new Map<string, Binding>();

  const bind = (key: string, workerId: string, nowMs: number): void => {
    bindings.delete(key);
    bindings.set(key, { workerId, expiresAtMs: nowMs + options.stickyTtlMs });
    while (bindings.size > Math.max(1, options.stickyMaxKeys)) {
      const oldest = bindings.keys().next().value as string;
      bindings.delete(oldest);
    }
  };

  return {
    name: "sticky",
    rank(feasible, request, { random, health, nowMs }): RankedCandidate[] {
      const key = request.routingKey;
      const byLoad = rankByScore(feasible, freeShare, random);
      if (key === "" || byLoad.length === 0) return byLoad;
      const binding = bindings.get(key);
      const isLive = binding !== undefined && binding.expiresAtMs > nowMs;
      const bound = isLive ? byLoad.find((c) => c.worker.workerId === binding.workerId) : undefined;
      const isHealthy = (workerId: string): boolean => {
        const { circuit, score } = healthOrDefault(health, workerId);
        return circuit === "closed" && score >= options.stickyMinHealthScore;
      };
      if (bound && isHealthy(bound.worker.workerId)) {
        // Score 1 + free share: above every worker ranked by load alone.
        const kept = {
          worker: bound.worker,
          score: 1 + bound.score,
          note: `sticky: key kept on ${bound.worker.workerId}`,
        };
        return [kept, ...byLoad.filter((c) => c !== bound)];
      }
      const [first, ...rest] = byLoad;
      const why = !isLive
        ? "no live binding"
        : bound
          ? `${binding.workerId} is unhealthy`
          : `${binding.workerId} has no room or left`;
      return [withNote(first, `sticky: key bound to ${first.worker.workerId} (${why})`), ...rest];
    },
    commit({ request, workerId, nowMs }) {
      if (request.routingKey !== "") bind(request.routingKey, workerId, nowMs);
    },
  };
}
