// A worker's status from the cluster view (the wire contract) as the
// placement stack sees it: the one translation, shared by the coordinator
// and every balancer so both decide over the same candidates.
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { WorkerState, type WorkerStatus } from "../contracts/index.js";
import type { WorkerCandidate, WorkerCondition } from "./types.js";

export function conditionOf(state: WorkerState): WorkerCondition {
  switch (state) {
    case WorkerState.ALIVE:
      return "alive";
    case WorkerState.SUSPECT:
      return "suspect";
    case WorkerState.DRAINING:
      return "draining";
    case WorkerState.DEAD:
    case WorkerState.UNSPECIFIED:
      return "dead";
    default: {
      const unknown: never = state;
      throw new Error(`unknown worker state ${String(unknown)}`);
    }
  }
}

/** A worker status as the placement stack sees it (balancer and coordinator alike). */
export function candidateOf(status: WorkerStatus): WorkerCandidate {
  const spec = status.spec;
  return {
    workerId: spec?.workerId ?? "",
    address: spec?.address ?? "",
    region: spec?.region ?? "",
    zone: spec?.zone ?? "",
    capabilities: spec?.capabilities ?? [],
    labels: spec?.labels ?? {},
    registeredAtMs: status.registeredAt ? timestampMs(status.registeredAt) : undefined,
    slots: spec?.slots ?? 0,
    inFlight: status.inFlight,
    condition:
      status.cordoned && status.state === WorkerState.ALIVE
        ? "cordoned"
        : conditionOf(status.state),
  };
}
