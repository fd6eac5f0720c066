// Whether a new task can ever run here, before it is accepted: a task whose
// hard constraint (capabilities, required region, required zone) no
// registered worker meets is refused with UNAVAILABLE naming the constraint.
// With no worker registered at all (scale to zero), it waits in the queue,
// and the answer says why, when the fleet starts workers that meet it. Never placed on a worker that violates it:
// the placement stack's filters see to that on every attempt.
import {
  filterFeasible,
  unmetConstraint,
  type PlacementRequest,
  type WorkerCandidate,
} from "../../libs/balancing/index.js";
import { failedPrecondition, notFound, unavailable } from "../../libs/rpc/index.js";

/** What the autoscaler offers the coordinator: it is attached while it can start workers. */
export interface FleetHooks {
  /** What a worker it would start looks like (region, zone, capabilities), to tell whether one could run a task. */
  readonly template: Pick<WorkerCandidate, "region" | "zone" | "capabilities">;
  /** Starts growing the fleet now if it may (enabled or scaled by hand); false when it will not. */
  wake(): boolean;
  /** A task had to wait for a slot (the fleet is full): worth a look before the next sync. */
  onQueued(): void;
}

/** Undefined: place it now (or queue it for a slot); a string: it waits for the fleet, and this is why. */
export type Admission = string | undefined;

export function admit(
  candidates: readonly WorkerCandidate[],
  request: PlacementRequest,
  fleet: FleetHooks | undefined,
): Admission {
  const present = candidates.filter((c) => c.condition !== "dead" && c.slots > 0);
  if (present.length > 0) {
    // Workers exist and none meets it: the policy scales on slots, not on
    // constraints, so a new worker is not certain to come. Refused.
    const unmet = unmetConstraint(present, request);
    if (unmet === undefined) return undefined;
    throw unavailable(
      `no registered worker ${unmet}; start a worker that does, or change the task`,
    );
  }
  // Scale from zero: any worker the fleet starts is one like its template.
  const unmetByFleet = fleet
    ? unmetConstraint([{ ...templateCandidate, ...fleet.template }], request)
    : undefined;
  if (fleet && unmetByFleet === undefined && fleet.wake())
    return "no worker is registered yet; the autoscaler is starting one";
  const why =
    unmetByFleet === undefined
      ? ""
      : ` (and the workers the autoscaler starts are not: none ${unmetByFleet})`;
  throw unavailable(`no workers are registered${why}; start a worker agent and retry`);
}

const templateCandidate: WorkerCandidate = {
  workerId: "(a worker the autoscaler would start)",
  address: "",
  region: "",
  zone: "",
  capabilities: [],
  slots: 1,
  inFlight: 0,
  condition: "alive",
};

/** A placement on a named worker (the balancer's choice): it must exist and pass every filter now. */
export function checkTarget(
  target: WorkerCandidate | undefined,
  workerId: string,
  request: PlacementRequest,
): void {
  if (!target) throw notFound(`worker ${workerId} is not registered (it left or never joined)`);
  const rejection = filterFeasible([target], request).rejected[0];
  if (rejection)
    throw failedPrecondition(
      `worker ${workerId} cannot take the task: ${rejection.detail} (${rejection.reason})`,
    );
}
