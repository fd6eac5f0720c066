// Carries out what the task lifecycle's transitions return: the one place
// where a transition turns into a row written, a queue changed, a worker told
// (after the commit), the cluster watch updated or a counter bumped.
import type { Logger } from "pino";
import type { PendingQueue } from "../../libs/ledger/index.js";
import type { TaskStore } from "../../libs/ledger/task-store.js";
import type { ClusterWatch } from "./cluster-watch.js";
import type { CommitOutbox } from "./commit-outbox.js";
import { saveTask } from "./coordinator-parts.js";
import { coordinatorCounters } from "./coordinator-metrics.js";
import type { Scheduler } from "./scheduler.js";
import { taskMetrics } from "./task-metrics.js";
import type { Effect } from "./task-lifecycle.js";
import type { WorkerRegistry } from "./worker-registry.js";

export interface EffectTargets {
  readonly store: TaskStore;
  readonly pending: PendingQueue;
  readonly outbox: CommitOutbox;
  readonly watch: ClusterWatch;
  readonly workers: WorkerRegistry;
  readonly scheduler: () => Scheduler;
  readonly logger: Logger;
  readonly now: () => number;
}

export function createEffectRunner(targets: EffectTargets): (effects: readonly Effect[]) => void {
  const carryOut = (effect: Effect): void => {
    switch (effect.kind) {
      case "save":
        saveTask(targets.store, effect.task);
        return;
      case "queue":
        targets.pending.add(effect.task);
        // A retry after a backoff: the scheduler wakes when it ends; one due now is placed next turn.
        if (effect.notBeforeMs > targets.now()) targets.scheduler().wakeAt(effect.notBeforeMs);
        else targets.scheduler().requestSchedule();
        return;
      case "unqueue":
        targets.pending.remove(effect.task);
        return;
      case "tell": {
        const { workerId, message } = effect;
        targets.outbox.afterCommit(() => targets.workers.send(workerId, message));
        return;
      }
      case "changed":
        targets.watch.changed(effect.workerId);
        return;
      case "retried":
        coordinatorCounters.retries.inc();
        return;
      case "placed":
        taskMetrics.placed(effect.task.task.spec, effect.waitedMs);
        return;
      case "attempt_ended":
        taskMetrics.attemptEnded(effect.task.task.spec, effect.outcome, effect.ranMs);
        return;
      case "dead_lettered":
        coordinatorCounters.deadLetters.inc();
        targets.logger.warn(
          {
            taskId: effect.task.task.spec?.taskId,
            attempts: effect.task.task.attempt,
            error: effect.error,
          },
          "task dead-lettered: no attempt left",
        );
        return;
      default: {
        const unknown: never = effect;
        throw new Error(`unknown effect ${JSON.stringify(unknown)}`);
      }
    }
  };
  return (effects) => {
    for (const effect of effects) carryOut(effect);
  };
}
