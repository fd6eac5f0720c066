// Feasibility: the checks that drop workers that cannot take the task at all.
// Each filter names its reason, so "why not worker X?" always has an answer.
// Two kinds: identity filters (is this worker a home for the task at all?)
// and capacity filters (can it take one more right now?). Workers passing the
// first kind are "eligible": hashing maps keys over them so a key's worker
// does not move when a worker merely fills up.
import {
  FilterReason,
  HEALTHY_DEFAULTS,
  healthOrDefault,
  type PlacementRequest,
  type Rejection,
  type WorkerCandidate,
  type WorkerHealth,
} from "./types.js";

type Filter = (
  worker: WorkerCandidate,
  request: PlacementRequest,
  health: WorkerHealth,
) => Rejection | undefined;

const reject = (worker: WorkerCandidate, reason: FilterReason, detail: string): Rejection => ({
  workerId: worker.workerId,
  reason,
  detail,
});

const isAlive: Filter = (worker) =>
  worker.condition === "alive" || worker.condition === "draining" || worker.condition === "cordoned"
    ? undefined
    : reject(worker, FilterReason.NotAlive, `worker is ${worker.condition}`);

const isTakingTasks: Filter = (worker) => {
  if (worker.condition === "draining")
    return reject(worker, FilterReason.Draining, "worker is draining");
  if (worker.condition === "cordoned")
    return reject(worker, FilterReason.Cordoned, "worker is cordoned");
  return undefined;
};

const hasCapabilities: Filter = (worker, request) => {
  const missing = request.requiredCapabilities.filter((c) => !worker.capabilities.includes(c));
  return missing.length === 0
    ? undefined
    : reject(worker, FilterReason.MissingCapability, `lacks ${missing.join(", ")}`);
};

const isInRequiredRegion: Filter = (worker, request) =>
  !request.requiredRegion || worker.region === request.requiredRegion
    ? undefined
    : reject(
        worker,
        FilterReason.WrongRegion,
        `in region "${worker.region}", task requires "${request.requiredRegion}"`,
      );

const isInRequiredZone: Filter = (worker, request) =>
  !request.requiredZone || worker.zone === request.requiredZone
    ? undefined
    : reject(
        worker,
        FilterReason.WrongZone,
        `in zone "${worker.zone}", task requires "${request.requiredZone}"`,
      );

const isCircuitClosed: Filter = (worker, _request, health) =>
  health.circuit === "open"
    ? reject(worker, FilterReason.CircuitOpen, "circuit open after consecutive failures")
    : undefined;

const hasFreeSlot: Filter = (worker) =>
  worker.inFlight < worker.slots
    ? undefined
    : reject(worker, FilterReason.NoFreeSlot, `${worker.inFlight}/${worker.slots} slots busy`);

// A half-open circuit lets one probe through: the worker is a candidate only
// while nothing is in flight on it, and the probe's outcome decides the rest.
const hasProbeRoom: Filter = (worker, _request, health) =>
  health.circuit !== "half_open" || worker.inFlight === 0
    ? undefined
    : reject(
        worker,
        FilterReason.ProbeInFlight,
        "circuit half-open and its one probe is in flight",
      );

// Cheapest and most common refusals first; the first refusal is the reason given.
const IDENTITY_FILTERS: readonly Filter[] = [
  isAlive,
  isTakingTasks,
  hasCapabilities,
  isInRequiredRegion,
  isInRequiredZone,
  isCircuitClosed,
];
const CAPACITY_FILTERS: readonly Filter[] = [hasFreeSlot, hasProbeRoom];

function firstRejection(
  filters: readonly Filter[],
  worker: WorkerCandidate,
  request: PlacementRequest,
  health: WorkerHealth,
): Rejection | undefined {
  for (const filter of filters) {
    const rejection = filter(worker, request, health);
    if (rejection) return rejection;
  }
  return undefined;
}

export interface Feasibility {
  /** Pass every filter: the workers a strategy ranks. */
  readonly feasible: WorkerCandidate[];
  /** Pass every filter except capacity (feasible ⊆ eligible). */
  readonly eligible: WorkerCandidate[];
  readonly rejected: Rejection[];
}

export function filterFeasible(
  workers: readonly WorkerCandidate[],
  request: PlacementRequest,
  health: ReadonlyMap<string, WorkerHealth> = new Map(),
): Feasibility {
  const feasible: WorkerCandidate[] = [];
  const eligible: WorkerCandidate[] = [];
  const rejected: Rejection[] = [];
  for (const worker of workers) {
    const workerHealth = healthOrDefault(health, worker.workerId);
    const refusal = firstRejection(IDENTITY_FILTERS, worker, request, workerHealth);
    if (refusal) {
      rejected.push(refusal);
      continue;
    }
    eligible.push(worker);
    const full = firstRejection(CAPACITY_FILTERS, worker, request, workerHealth);
    if (full) rejected.push(full);
    else feasible.push(worker);
  }
  return { feasible, eligible, rejected };
}

// The task's hard constraints, each with the words a refusal uses for it.
const CONSTRAINTS: readonly {
  readonly filter: Filter;
  readonly isAsked: (request: PlacementRequest) => boolean;
  readonly describe: (request: PlacementRequest) => string;
}[] = [
  {
    filter: hasCapabilities,
    isAsked: (r) => r.requiredCapabilities.length > 0,
    describe: (r) => `offers every required capability [${r.requiredCapabilities.join(", ")}]`,
  },
  {
    filter: isInRequiredRegion,
    isAsked: (r) => r.requiredRegion !== "",
    describe: (r) => `is in required_region "${r.requiredRegion}"`,
  },
  {
    filter: isInRequiredZone,
    isAsked: (r) => r.requiredZone !== "",
    describe: (r) => `is in required_zone "${r.requiredZone}"`,
  },
];

/**
 * The hard constraint no worker meets, in words, ignoring state and load
 * (a full or draining worker still counts: the task can wait for it);
 * undefined when some worker meets them all. Names the first constraint
 * nobody meets alone, else says that nobody meets them together.
 */
export function unmetConstraint(
  workers: readonly WorkerCandidate[],
  request: PlacementRequest,
): string | undefined {
  const asked = CONSTRAINTS.filter((c) => c.isAsked(request));
  const meets = (worker: WorkerCandidate, constraints: typeof asked): boolean =>
    constraints.every((c) => c.filter(worker, request, HEALTHY_DEFAULTS) === undefined);
  const present = workers.filter((w) => w.condition !== "dead");
  if (present.some((w) => meets(w, asked))) return undefined;
  const alone = asked.find((c) => !present.some((w) => meets(w, [c])));
  return alone ? alone.describe(request) : asked.map((c) => c.describe(request)).join(" and ");
}
