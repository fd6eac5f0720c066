// What the coordinator keeps about each worker, and how it shows it.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import {
  WorkerState,
  WorkerStatusSchema,
  type WorkerSessionResponseSchema,
  type WorkerSpec,
  type WorkerStatus,
} from "../../libs/contracts/index.js";
import type { AsyncQueue } from "../../libs/rpc/index.js";
import type { WorkerCandidate, WorkerCondition } from "../../libs/balancing/index.js";

export type SessionMessage = MessageInitShape<typeof WorkerSessionResponseSchema>;

/** One open WorkerSession stream. A worker has at most one; a newer one replaces it. */
export interface WorkerSessionHandle {
  readonly workerId: string;
  readonly epoch: bigint;
  readonly outbound: AsyncQueue<SessionMessage>;
}

export interface WorkerRecord {
  spec: WorkerSpec;
  state: WorkerState;
  epoch: bigint;
  session: WorkerSessionHandle | undefined;
  registeredAtMs: number;
  lastHeartbeatMs: number;
  cpuUtilization: number;
  memoryRssBytes: bigint;
  tasksSucceeded: bigint;
  tasksFailed: bigint;
  /** When the stream broke: the worker is SUSPECT until it reconnects or the grace ends. */
  streamLostAtMs: number | undefined;
  /** How long it may stay SUSPECT (longer right after a coordinator restart). */
  graceMs: number;
  deadAtMs: number | undefined;
  /** An operator cordoned it: it keeps what it runs but gets nothing new. */
  isCordoned: boolean;
  /** EWMA of its tasks' run times, as its results report them (0 until the first). */
  taskLatencyEwmaMs: number;
}

export function workerStatus(record: WorkerRecord, inFlight: number): WorkerStatus {
  return create(WorkerStatusSchema, {
    spec: record.spec,
    state: record.state,
    inFlight,
    freeSlots: Math.max(0, record.spec.slots - inFlight),
    cpuUtilization: record.cpuUtilization,
    memoryRssBytes: record.memoryRssBytes,
    registeredAt: timestampFromMs(record.registeredAtMs),
    lastHeartbeatAt: timestampFromMs(record.lastHeartbeatMs),
    tasksSucceeded: record.tasksSucceeded,
    tasksFailed: record.tasksFailed,
    sessionEpoch: record.epoch,
    cordoned: record.isCordoned,
    taskLatencyEwmaMs: record.taskLatencyEwmaMs,
  });
}

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
    condition: status.cordoned && status.state === WorkerState.ALIVE ? "cordoned" : conditionOf(status.state),
  };
}

export function stateName(state: WorkerState): string {
  return WorkerState[state] ?? String(state);
}
