// The one translation of what a caller asks (a task spec from Assign or
// Place, a Route request) into what the placement stack ranks. Every path
// that places or routes a task goes through here, so a constraint added to
// PlacementRequest reaches all of them at once: the balancer's ranking,
// Route, the coordinator's own placement, the pending queue, re-placement
// after a death or a timeout, and recovery after a restart.
import type { TaskSpec } from "../contracts/index.js";
import type { PlacementRequest } from "./types.js";

/** The fields a task spec and a Route request share, named alike on the wire. */
type PlacementFields = Pick<
  TaskSpec,
  | "routingKey"
  | "requiredCapabilities"
  | "preferredRegion"
  | "taskType"
  | "requiredRegion"
  | "requiredZone"
>;

/** A task spec (it has a task id) or a Route request (it has none). */
export function placementRequestOf(
  source: PlacementFields & { readonly taskId?: string },
): PlacementRequest {
  return {
    taskId: source.taskId ?? "",
    routingKey: source.routingKey,
    requiredCapabilities: source.requiredCapabilities,
    preferredRegion: source.preferredRegion,
    taskType: source.taskType,
    requiredRegion: source.requiredRegion,
    requiredZone: source.requiredZone,
  };
}
