// What the coordinator keeps about each worker, and how it shows it.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  WorkerState,
  WorkerStatusSchema,
  type WorkerSessionResponseSchema,
  type WorkerSpec,
  type WorkerStatus,
} from "../../libs/contracts/index.js";
import type { AsyncQueue } from "../../libs/rpc/index.js";

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

export function stateName(state: WorkerState): string {
  return WorkerState[state] ?? String(state);
}
