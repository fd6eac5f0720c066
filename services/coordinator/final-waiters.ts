// Callers waiting for a task's final state (AwaitTask, WaitTask), by task id:
// one lookup per finished task, woken only once the final state is durable.
import type { TaskRecord } from "../../libs/ledger/index.js";

export interface FinalWaiters {
  /** Calls `wake` once when the task becomes final; returns a function that stops waiting. */
  add(taskId: string, wake: (record: TaskRecord) => void): () => void;
  wake(record: TaskRecord): void;
}

export function createFinalWaiters(): FinalWaiters {
  const waiters = new Map<string, Set<(record: TaskRecord) => void>>();
  return {
    add(taskId, wake) {
      let waiting = waiters.get(taskId);
      if (!waiting) waiters.set(taskId, (waiting = new Set()));
      waiting.add(wake);
      return () => {
        waiting.delete(wake);
        if (waiting.size === 0 && waiters.get(taskId) === waiting) waiters.delete(taskId);
      };
    },
    wake(record) {
      const id = record.task.spec?.taskId ?? "";
      const waiting = waiters.get(id);
      if (!waiting) return;
      waiters.delete(id);
      for (const wake of waiting) wake(record);
    },
  };
}
