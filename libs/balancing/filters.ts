// Feasibility: the checks that drop workers that cannot take the task at all.
// Each filter names its reason, so "why not worker X?" always has an answer.
import { FilterReason, type PlacementRequest, type Rejection, type WorkerCandidate } from "./types.js";

type Filter = (worker: WorkerCandidate, request: PlacementRequest) => Rejection | undefined;

const isAlive: Filter = (worker) =>
  worker.condition === "alive" || worker.condition === "draining" || worker.condition === "cordoned"
    ? undefined
    : { workerId: worker.workerId, reason: FilterReason.NotAlive, detail: `worker is ${worker.condition}` };

const isTakingTasks: Filter = (worker) => {
  if (worker.condition === "draining") return { workerId: worker.workerId, reason: FilterReason.Draining, detail: "worker is draining" };
  if (worker.condition === "cordoned") return { workerId: worker.workerId, reason: FilterReason.Cordoned, detail: "worker is cordoned" };
  return undefined;
};

const hasFreeSlot: Filter = (worker) =>
  worker.inFlight < worker.slots
    ? undefined
    : { workerId: worker.workerId, reason: FilterReason.NoFreeSlot, detail: `${worker.inFlight}/${worker.slots} slots busy` };

const hasCapabilities: Filter = (worker, request) => {
  const missing = request.requiredCapabilities.filter((c) => !worker.capabilities.includes(c));
  return missing.length === 0
    ? undefined
    : { workerId: worker.workerId, reason: FilterReason.MissingCapability, detail: `lacks ${missing.join(", ")}` };
};

// Cheapest and most common refusals first; the first refusal is the reason given.
const FILTERS: readonly Filter[] = [isAlive, isTakingTasks, hasCapabilities, hasFreeSlot];

export function filterFeasible(
  workers: readonly WorkerCandidate[],
  request: PlacementRequest,
): { feasible: WorkerCandidate[]; rejected: Rejection[] } {
  const feasible: WorkerCandidate[] = [];
  const rejected: Rejection[] = [];
  for (const worker of workers) {
    let rejection: Rejection | undefined;
    for (const filter of FILTERS) {
      rejection = filter(worker, request);
      if (rejection) break;
    }
    if (rejection) rejected.push(rejection);
    else feasible.push(worker);
  }
  return { feasible, rejected };
}

/** Whether some worker offers every required capability, ignoring load (for a clear refusal). */
export function isCapabilityOffered(workers: readonly WorkerCandidate[], request: PlacementRequest): boolean {
  return workers.some((w) => w.condition !== "dead" && request.requiredCapabilities.every((c) => w.capabilities.includes(c)));
}
