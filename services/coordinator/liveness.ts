// Failure detection as a pure judgement: from the workers, their tasks and
// the time, which workers are dead (and why), which long-dead ones to forget,
// and which tasks ran past their timeout. The coordinator carries it out.
import { WorkerState } from "../../libs/contracts/index.js";
import type { TaskRecord } from "../../libs/ledger/index.js";
import type { WorkerRecord } from "./worker-registry.js";

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

export interface LivenessInputs {
  readonly workers: Iterable<WorkerRecord>;
  readonly unfinishedOn: (workerId: string) => readonly TaskRecord[];
  readonly timeoutOf: (task: TaskRecord) => number;
  readonly settings: LivenessSettings;
  readonly nowMs: number;
}

export function judgeLiveness({
  workers,
  unfinishedOn,
  timeoutOf,
  settings,
  nowMs,
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
    const silentMs = nowMs - worker.lastHeartbeatMs;
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
