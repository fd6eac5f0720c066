// What the coordinator knows about each worker (its spec, session, state and
// counters), the registry that holds them, and how they are shown.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  WorkerState,
  WorkerSpecSchema,
  WorkerStatusSchema,
  type WorkerSessionResponseSchema,
  type WorkerSpec,
  type WorkerStatus,
} from "../../libs/contracts/index.js";
import { candidateOf, type WorkerCandidate } from "../../libs/balancing/index.js";
import type { AsyncQueue } from "../../libs/rpc/index.js";
import type { ClockReading } from "./pause-detector.js";

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
  /** Wall clock, as shown (Admin, metrics). */
  lastHeartbeatMs: number;
  /** When this process last heard it (register or heartbeat), on the monotonic clock; undefined while it is known from the ledger alone. */
  lastHeardMonotonicMs: number | undefined;
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
  /**
   * Attempts it still runs that are no longer its own (given to another worker
   * while it was frozen or cut off): they fill slots until they end, so they
   * count as in flight. From its register and each heartbeat.
   */
  staleRunning: number;
  /** The task ids its last full heartbeat (or its register) reported running; an unchanged heartbeat keeps them. */
  reportedRunning: ReadonlySet<string>;
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

/** The workers the coordinator knows: who they are, their session, their state. What it knows, not what it decides. */
export interface WorkerRegistry {
  get(workerId: string): WorkerRecord | undefined;
  set(record: WorkerRecord): void;
  forget(workerId: string): void;
  all(): IterableIterator<WorkerRecord>;
  /** The record this session still speaks for: same incarnation, not declared dead. */
  current(session: WorkerSessionHandle): WorkerRecord | undefined;
  /** Not dead, as the placement stack sees them. */
  candidates(): WorkerCandidate[];
  /** One worker as the ranking sees it (undefined when unknown or dead), without walking the others. */
  candidate(workerId: string): WorkerCandidate | undefined;
  statusOf(record: WorkerRecord): WorkerStatus;
  /** Sorted by id. */
  list(includeDead: boolean): WorkerStatus[];
  counts(): WorkerCounts;
  /** Pushes a message down the worker's open session, if it has one. */
  send(workerId: string, message: SessionMessage): void;
}

export type WorkerCounts = Record<"alive" | "suspect" | "draining" | "dead", number> & {
  totalSlots: number;
  busySlots: number;
};

/** `inFlightOf` counts a worker's unfinished tasks (the ledger's). */
export function createWorkerRegistry(inFlightOf: (workerId: string) => number): WorkerRegistry {
  const workers = new Map<string, WorkerRecord>();
  const statusOf = (record: WorkerRecord): WorkerStatus =>
    workerStatus(record, inFlightOf(record.spec.workerId) + record.staleRunning);
  return {
    get: (workerId) => workers.get(workerId),
    set: (record) => void workers.set(record.spec.workerId, record),
    forget: (workerId) => void workers.delete(workerId),
    all: () => workers.values(),
    current(session) {
      const record = workers.get(session.workerId);
      return record && record.epoch === session.epoch && record.state !== WorkerState.DEAD
        ? record
        : undefined;
    },
    candidates: () =>
      [...workers.values()]
        .filter((w) => w.state !== WorkerState.DEAD)
        .map((w) => candidateOf(statusOf(w))),
    candidate(workerId) {
      const record = workers.get(workerId);
      return record && record.state !== WorkerState.DEAD
        ? candidateOf(statusOf(record))
        : undefined;
    },
    statusOf,
    list: (includeDead) =>
      [...workers.values()]
        .filter((w) => includeDead || w.state !== WorkerState.DEAD)
        .sort((a, b) => (a.spec.workerId < b.spec.workerId ? -1 : 1))
        .map(statusOf),
    counts() {
      const counts = { alive: 0, suspect: 0, draining: 0, dead: 0, totalSlots: 0, busySlots: 0 };
      for (const record of workers.values()) {
        const name = stateName(record.state).toLowerCase() as
          "alive" | "suspect" | "draining" | "dead";
        if (name in counts) counts[name] += 1;
        if (record.state === WorkerState.ALIVE || record.state === WorkerState.DRAINING) {
          counts.totalSlots += record.spec.slots;
          counts.busySlots += inFlightOf(record.spec.workerId);
        }
      }
      return counts;
    },
    send: (workerId, message) => workers.get(workerId)?.session?.outbound.push(message),
  };
}

/** A fresh record for a worker that (re)opened a session; counters and cordon carry over from the one it replaces. */
export function registeredWorker(
  spec: WorkerSpec,
  session: WorkerSessionHandle,
  previous: WorkerRecord | undefined,
  at: ClockReading,
  graceMs: number,
): WorkerRecord {
  return {
    spec,
    state: WorkerState.ALIVE,
    epoch: session.epoch,
    session,
    registeredAtMs: at.wallMs,
    lastHeartbeatMs: at.wallMs,
    lastHeardMonotonicMs: at.monotonicMs,
    cpuUtilization: 0,
    memoryRssBytes: 0n,
    tasksSucceeded: previous?.tasksSucceeded ?? 0n,
    tasksFailed: previous?.tasksFailed ?? 0n,
    streamLostAtMs: undefined,
    graceMs,
    deadAtMs: undefined,
    isCordoned: previous?.isCordoned ?? false,
    taskLatencyEwmaMs: previous?.taskLatencyEwmaMs ?? 0,
    staleRunning: 0,
    reportedRunning: new Set(),
  };
}

/** A worker known only from the ledger after a restart: it had tasks when the coordinator stopped, and has `graceMs` to come back. */
export function awaitedWorker(workerId: string, nowMs: number, graceMs: number): WorkerRecord {
  return {
    spec: create(WorkerSpecSchema, { workerId, slots: 0 }),
    state: WorkerState.SUSPECT,
    epoch: 0n,
    session: undefined,
    registeredAtMs: nowMs,
    lastHeartbeatMs: nowMs,
    lastHeardMonotonicMs: undefined,
    cpuUtilization: 0,
    memoryRssBytes: 0n,
    tasksSucceeded: 0n,
    tasksFailed: 0n,
    streamLostAtMs: nowMs,
    graceMs,
    deadAtMs: undefined,
    isCordoned: false,
    taskLatencyEwmaMs: 0,
    staleRunning: 0,
    reportedRunning: new Set(),
  };
}
