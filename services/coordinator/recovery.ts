// After a restart: the ledger rebuilt from the store. Waiting tasks go back
// to the pending queue (and are placed by the scheduler, through the same
// translation of their constraints as any other); tasks that were on a
// worker stay with it, and that worker is awaited for the recovery grace.
import { TaskState } from "../../libs/contracts/index.js";
import { isFinal, type PendingQueue, type TaskLedger } from "../../libs/ledger/index.js";
import type { TaskStore } from "../../libs/ledger/task-store.js";
import { awaitedWorker, type WorkerRegistry } from "./worker-registry.js";

export interface RecoverySummary {
  readonly tasks: number;
  readonly pending: number;
  readonly unfinishedOnWorkers: number;
  readonly workersAwaited: number;
}

export interface RecoveryInputs {
  readonly store: TaskStore;
  readonly ledger: TaskLedger;
  readonly pending: PendingQueue;
  readonly workers: WorkerRegistry;
  readonly nowMs: number;
  readonly recoveryGraceMs: number;
}

export async function recoverFromStore({
  store,
  ledger,
  pending,
  workers,
  nowMs,
  recoveryGraceMs,
}: RecoveryInputs): Promise<RecoverySummary> {
  let tasks = 0;
  const owners = new Set<string>();
  for (const entry of await store.loadAll()) {
    const record = ledger.restore(entry);
    tasks += 1;
    if (record.task.state === TaskState.PENDING) pending.add(record);
    else if (!isFinal(record.task.state) && record.task.workerId) {
      record.startedAtMs = nowMs;
      owners.add(record.task.workerId);
    }
  }
  for (const workerId of owners) workers.set(awaitedWorker(workerId, nowMs, recoveryGraceMs));
  const unfinishedOnWorkers = [...owners].reduce((n, id) => n + ledger.unfinishedCount(id), 0);
  return { tasks, pending: pending.size, unfinishedOnWorkers, workersAwaited: owners.size };
}
