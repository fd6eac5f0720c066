// Failure detection as a pure judgement: from the workers, their tasks and
// the time, which workers are dead (and why), which long-dead ones to forget,
// and which tasks ran past their timeout. The coordinator carries it out.
// Heartbeat silence is measured on the monotonic clock, so a stepped wall
// clock silences nobody; after the coordinator's own pause, a hold keeps it
// from judging workers it has not heard from since.
import { WorkerState } from "../../libs/contracts/index.js";
import type { TaskRecord } from "../../libs/ledger/index.js";
import type { WorkerRecord } from "./worker-registry.js";

/** A quarter interval: a silent worker is noticed at most that long after its timeout. */
export function livenessTickMs(heartbeatIntervalMs: number): number {
  return Math.max(50, Math.floor(heartbeatIntervalMs / 4));
}

export interface LivenessSettings {
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly deadWorkerRetentionMs: number;
  readonly isFailureDetectionEnabled: boolean;
}

export type LivenessVerdict =
  | { readonly kind: "forget"; readonly workerId: string }
  | { readonly kind: "dead"; readonly worker: WorkerRecord; readonly reason: string }
  | {
      readonly kind: "timed_out";
      readonly worker: WorkerRecord;
      readonly task: TaskRecord;
      readonly timeoutMs: number;
    };

/**
 * The coordinator found it had been away (pause-detector.ts). What its
 * workers sent meanwhile may still be unread in its sockets, so a worker it
 * has not heard from since `sinceMonotonicMs` is not judged before
 * `untilMonotonicMs`: one heartbeat timeout, the chance any worker gets.
 */
export interface LivenessHold {
  readonly sinceMonotonicMs: number;
  readonly untilMonotonicMs: number;
  readonly pauseMs: number;
}

export function holdAfterPause(options: {
  readonly pauseMs: number;
  readonly monotonicNowMs: number;
  readonly heartbeatTimeoutMs: number;
}): LivenessHold {
  return {
    sinceMonotonicMs: options.monotonicNowMs,
    untilMonotonicMs: options.monotonicNowMs + options.heartbeatTimeoutMs,
    pauseMs: options.pauseMs,
  };
}

export function isHoldOver(hold: LivenessHold, monotonicNowMs: number): boolean {
  return monotonicNowMs >= hold.untilMonotonicMs;
}

export function isHeardSince(worker: WorkerRecord, hold: LivenessHold): boolean {
  return (
    worker.lastHeardMonotonicMs !== undefined &&
    worker.lastHeardMonotonicMs >= hold.sinceMonotonicMs
  );
}

/** Still waiting to be heard from after the coordinator's pause. */
export function isHeld(
  worker: WorkerRecord,
  hold: LivenessHold | undefined,
  monotonicNowMs: number,
): boolean {
  return hold !== undefined && !isHoldOver(hold, monotonicNowMs) && !isHeardSince(worker, hold);
}

export interface LivenessInputs {
  readonly workers: Iterable<WorkerRecord>;
  readonly unfinishedOn: (workerId: string) => readonly TaskRecord[];
  readonly timeoutOf: (task: TaskRecord) => number;
  readonly settings: LivenessSettings;
  /** Wall clock: dead-worker retention, reconnect grace and task timeouts (their times are persisted as wall times). */
  readonly nowMs: number;
  /** Monotonic clock: heartbeat silence. */
  readonly monotonicNowMs: number;
  readonly hold?: LivenessHold;
}

export function judgeLiveness({
  workers,
  unfinishedOn,
  timeoutOf,
  settings,
  nowMs,
  monotonicNowMs,
  hold,
}: LivenessInputs): LivenessVerdict[] {
  const verdicts: LivenessVerdict[] = [];
  // A task past its timeout plus a little slack (room for the worker's own report) is taken back.
  const slackMs = Math.max(1000, 2 * settings.heartbeatIntervalMs);
  for (const worker of workers) {
    const workerId = worker.spec.workerId;
    if (worker.state === WorkerState.DEAD) {
      if (worker.deadAtMs !== undefined && nowMs - worker.deadAtMs > settings.deadWorkerRetentionMs)
        verdicts.push({ kind: "forget", workerId });
      continue;
    }
    if (isHeld(worker, hold, monotonicNowMs)) continue;
    if (
      worker.state === WorkerState.SUSPECT &&
      worker.streamLostAtMs !== undefined &&
      nowMs - worker.streamLostAtMs > worker.graceMs
    ) {
      verdicts.push({
        kind: "dead",
        worker,
        reason: `stream lost and no reconnect within ${worker.graceMs} ms`,
      });
      continue;
    }
    // Never heard by this process (known from the ledger alone): only its reconnect grace counts.
    const silentMs =
      worker.lastHeardMonotonicMs === undefined
        ? 0
        : Math.round(monotonicNowMs - worker.lastHeardMonotonicMs);
    if (
      settings.isFailureDetectionEnabled &&
      worker.state !== WorkerState.SUSPECT &&
      silentMs > settings.heartbeatTimeoutMs
    ) {
      verdicts.push({
        kind: "dead",
        worker,
        reason: `no heartbeat for ${silentMs} ms (timeout ${settings.heartbeatTimeoutMs} ms)`,
      });
      continue;
    }
    for (const task of unfinishedOn(workerId)) {
      if (task.startedAtMs === undefined) continue;
      const timeoutMs = timeoutOf(task);
      if (nowMs - task.startedAtMs > timeoutMs + slackMs)
        verdicts.push({ kind: "timed_out", worker, task, timeoutMs });
    }
  }
  return verdicts;
}

/**
 * The worker's heartbeat is the lease on its tasks: a task placed on it a
 * while ago that it does not report running was lost there. "A while" is
 * three heartbeats and at least 2 s: under heavy load a heartbeat written
 * before the assignment arrived can be read well after it was sent.
 */
export function tasksLostOn(
  placed: readonly TaskRecord[],
  running: ReadonlySet<string>,
  heartbeatIntervalMs: number,
  nowMs: number,
): TaskRecord[] {
  const settleMs = Math.max(3 * heartbeatIntervalMs, 2000);
  return placed.filter(
    (task) =>
      !running.has(task.task.spec?.taskId ?? "") &&
      task.startedAtMs !== undefined &&
      nowMs - task.startedAtMs > settleMs,
  );
}
