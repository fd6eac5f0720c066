// The two hashing strategies: a key order (rendezvous or Maglev) with the
// bounded-loads rule on top. Both place a routing key's tasks on the same
// worker while it has room under the bound, from any balancer replica.
import {
  rankWithBoundedLoads,
  resolveBoundedLoadOptions,
  type BoundedLoadOptions,
} from "./bounded-load.js";
import type { PlacementContext, PlacementRequest, Strategy, WorkerCandidate } from "./contract.js";
import { DEFAULT_MAGLEV_TABLE_SIZE, isPrime, maglevOrder } from "./maglev.js";
import { rendezvousOrder } from "./rendezvous.js";

export type ConsistentHashOptions = Partial<BoundedLoadOptions>;

export interface MaglevOptions extends ConsistentHashOptions {
  /** A prime, well above the number of workers; 65,537 by default. */
  readonly tableSize?: number;
}

type KeyOrder = (key: string, workerIds: readonly string[]) => string[];

/** The key that picks the home: the routing key, or the task id when there is none. */
export function placementKey(request: PlacementRequest): { key: string; isTaskId: boolean } {
  return request.routingKey !== ""
    ? { key: request.routingKey, isTaskId: false }
    : { key: request.taskId, isTaskId: true };
}

function createBoundedHashStrategy(
  name: string,
  keyOrder: KeyOrder,
  options: ConsistentHashOptions,
): Strategy {
  const bounded = resolveBoundedLoadOptions(options);
  return {
    name,
    rank(
      feasible: readonly WorkerCandidate[],
      request: PlacementRequest,
      context: PlacementContext,
    ) {
      if (feasible.length === 0) return [];
      const { key, isTaskId } = placementKey(request);
      // Home positions over every eligible worker, full or not: a key's home
      // must not move because its worker filled up for a moment.
      const workerIds = context.eligible.map((worker) => worker.workerId);
      const isEligible = new Set(workerIds);
      for (const worker of feasible)
        if (!isEligible.has(worker.workerId)) workerIds.push(worker.workerId);
      return rankWithBoundedLoads({
        c: bounded.c,
        overflowCandidates: bounded.overflowCandidates,
        keyOrder: keyOrder(key, workerIds),
        feasible,
        eligible: context.eligible,
        noteSuffix: isTaskId ? "; no routing key, hashed the task id" : "",
      });
    },
  };
}

/** Rendezvous hashing with bounded loads. */
export function createConsistentHashStrategy(options: ConsistentHashOptions = {}): Strategy {
  return createBoundedHashStrategy("consistent_hash", rendezvousOrder, options);
}

/** Maglev hashing with bounded loads; overflow candidates in rendezvous order (see maglev.ts). */
export function createMaglevStrategy(options: MaglevOptions = {}): Strategy {
  const tableSize = options.tableSize ?? DEFAULT_MAGLEV_TABLE_SIZE;
  if (!isPrime(tableSize)) throw new RangeError(`tableSize must be a prime, got ${tableSize}`);
  return createBoundedHashStrategy(
    "maglev",
    (key, workerIds) => maglevOrder(key, workerIds, tableSize),
    options,
  );
}
